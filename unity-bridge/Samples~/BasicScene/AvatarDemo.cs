using AvatarRealtime;
using UnityEngine;

/// <summary>
/// The sample's only script: a text box to type to the avatar, the last thing heard and answered,
/// and a Stop button (barge-in by hand). Put it next to an AvatarConversation (see README.md).
/// </summary>
public sealed class AvatarDemo : MonoBehaviour
{
    public AvatarConversation Conversation;
    private string _input = "Hello! Who are you?";
    private string _heard = "", _answer = "", _error = "";

    private void Start()
    {
        Conversation.OnUserTranscript.AddListener(t => _heard = t);
        Conversation.OnAnswer.AddListener(t => _answer = t);
        Conversation.OnError.AddListener(e => _error = e);
    }

    private void OnGUI()
    {
        GUILayout.BeginArea(new Rect(10, 10, 480, 300));
        GUILayout.Label(Conversation.Connected ? "connected: " + Conversation.Session.SessionId : "connecting to " + Conversation.ServerUrl);
        _input = GUILayout.TextField(_input, GUILayout.Width(460));
        if (GUILayout.Button("Say", GUILayout.Width(120))) Conversation.Say(_input);
        if (GUILayout.Button("Stop", GUILayout.Width(120))) Conversation.Interrupt();
        GUILayout.Label("heard: " + _heard);
        GUILayout.Label("answer: " + _answer);
        if (_error.Length > 0) GUILayout.Label("error: " + _error);
        GUILayout.EndArea();
    }
}
