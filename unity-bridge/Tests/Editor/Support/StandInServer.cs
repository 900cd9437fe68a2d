using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace AvatarRealtime.Tests
{
    /// <summary>
    /// A scripted WebSocket server (RFC 6455, just enough) for what the real server never does:
    /// send bad frames, refuse with a given error, close at a given moment. It records each
    /// handshake (path, query, headers). Loopback only; a stand-in for misbehaviour, not for the
    /// protocol (the live tests use the real server).
    /// </summary>
    public sealed class StandInServer : IDisposable
    {
        public sealed class Connection
        {
            internal NetworkStream Stream;
            internal TcpClient Client;
            public string Target; // path and query of the GET
            public readonly Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            private readonly SemaphoreSlim _write = new SemaphoreSlim(1);

            public Task SendText(string text) { return SendFrame(1, Encoding.UTF8.GetBytes(text)); }
            public Task SendBinary(byte[] data) { return SendFrame(2, data); }

            public Task SendClose(int code, string reason)
            {
                var r = Encoding.UTF8.GetBytes(reason ?? "");
                var p = new byte[2 + r.Length];
                p[0] = (byte)(code >> 8);
                p[1] = (byte)code;
                Array.Copy(r, 0, p, 2, r.Length);
                return SendFrame(8, p);
            }

            /// <summary>Send raw bytes as one frame of the given opcode, optionally split in fragments.</summary>
            public async Task SendFrame(int opcode, byte[] payload, int fragments = 1)
            {
                await _write.WaitAsync().ConfigureAwait(false);
                try
                {
                    int per = Math.Max(1, (payload.Length + fragments - 1) / Math.Max(1, fragments));
                    int at = 0, i = 0;
                    do
                    {
                        int n = Math.Min(per, payload.Length - at);
                        bool fin = at + n >= payload.Length;
                        var header = new MemoryStream();
                        header.WriteByte((byte)((fin ? 0x80 : 0) | (i == 0 ? opcode : 0)));
                        if (n < 126) header.WriteByte((byte)n);
                        else if (n < 65536) { header.WriteByte(126); header.WriteByte((byte)(n >> 8)); header.WriteByte((byte)n); }
                        else
                        {
                            header.WriteByte(127);
                            for (int k = 7; k >= 0; k--) header.WriteByte((byte)((long)n >> (8 * k)));
                        }
                        await Stream.WriteAsync(header.ToArray(), 0, (int)header.Length).ConfigureAwait(false);
                        await Stream.WriteAsync(payload, at, n).ConfigureAwait(false);
                        at += n;
                        i++;
                    } while (at < payload.Length);
                    await Stream.FlushAsync().ConfigureAwait(false);
                }
                finally { _write.Release(); }
            }

            /// <summary>The next frame from the client: (opcode, unmasked payload); opcode -1 at the end.</summary>
            public async Task<KeyValuePair<int, byte[]>> Receive()
            {
                var h = await ReadExactly(2).ConfigureAwait(false);
                if (h == null) return new KeyValuePair<int, byte[]>(-1, null);
                int opcode = h[0] & 0x0F;
                bool masked = (h[1] & 0x80) != 0;
                long len = h[1] & 0x7F;
                if (len == 126) { var e = await ReadExactly(2).ConfigureAwait(false); len = (e[0] << 8) | e[1]; }
                else if (len == 127)
                {
                    var e = await ReadExactly(8).ConfigureAwait(false);
                    len = 0;
                    for (int k = 0; k < 8; k++) len = (len << 8) | e[k];
                }
                var mask = masked ? await ReadExactly(4).ConfigureAwait(false) : null;
                var payload = len == 0 ? new byte[0] : await ReadExactly((int)len).ConfigureAwait(false);
                if (payload == null) return new KeyValuePair<int, byte[]>(-1, null);
                if (mask != null) for (int i = 0; i < payload.Length; i++) payload[i] ^= mask[i % 4];
                return new KeyValuePair<int, byte[]>(opcode, payload);
            }

            /// <summary>The next text message from the client (skipping pings), or null at the end.</summary>
            public async Task<string> ReceiveText()
            {
                while (true)
                {
                    var f = await Receive().ConfigureAwait(false);
                    if (f.Key < 0 || f.Key == 8) return null;
                    if (f.Key == 1) return Encoding.UTF8.GetString(f.Value);
                }
            }

            private async Task<byte[]> ReadExactly(int n)
            {
                var b = new byte[n];
                int at = 0;
                while (at < n)
                {
                    int r;
                    try { r = await Stream.ReadAsync(b, at, n - at).ConfigureAwait(false); }
                    catch (Exception) { return null; }
                    if (r == 0) return null;
                    at += r;
                }
                return b;
            }

            public void Abort() { try { Client.Close(); } catch (Exception) { } }
        }

        private readonly TcpListener _listener;
        private readonly Func<Connection, Task> _script;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        public readonly ConcurrentQueue<Connection> Connections = new ConcurrentQueue<Connection>();
        private int _count;

        /// <summary>Each accepted connection runs <paramref name="script"/> after the handshake.</summary>
        public StandInServer(Func<Connection, Task> script)
        {
            _script = script;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            Task.Run(() => AcceptLoop());
        }

        public int Port { get; private set; }
        public Uri Url { get { return new Uri("ws://127.0.0.1:" + Port + "/ws"); } }
        public int Count { get { return Volatile.Read(ref _count); } }

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient c;
                try { c = await _listener.AcceptTcpClientAsync().ConfigureAwait(false); }
                catch (Exception) { return; }
                Forget(Task.Run(() => Serve(c)));
            }
        }

        private async Task Serve(TcpClient client)
        {
            var conn = new Connection { Client = client, Stream = client.GetStream() };
            try
            {
                var head = new StringBuilder();
                var one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await conn.Stream.ReadAsync(one, 0, 1).ConfigureAwait(false) == 0) return;
                    head.Append((char)one[0]);
                }
                var lines = head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries);
                conn.Target = lines[0].Split(' ')[1];
                for (int i = 1; i < lines.Length; i++)
                {
                    int colon = lines[i].IndexOf(':');
                    if (colon > 0) conn.Headers[lines[i].Substring(0, colon).Trim()] = lines[i].Substring(colon + 1).Trim();
                }
                string accept;
                using (var sha = SHA1.Create())
                    accept = Convert.ToBase64String(sha.ComputeHash(Encoding.ASCII.GetBytes(conn.Headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
                var reply = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
                await conn.Stream.WriteAsync(reply, 0, reply.Length).ConfigureAwait(false);
                Connections.Enqueue(conn);
                Interlocked.Increment(ref _count);
                await _script(conn).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // the client went away mid-script: that is what some tests do
            }
            finally
            {
                conn.Abort(); // as a real server, close the TCP connection when done
            }
        }

        /// <summary>A session.ready as the real server sends it (from the Python-written vectors).</summary>
        public static string ReadyText(string sessionId)
        {
            return "{\"type\":\"session.ready\",\"session_id\":\"" + sessionId + "\",\"protocol_version\":1,\"output_sample_rate\":22050," +
                   "\"audio_format\":\"pcm16le\",\"input_audio_format\":\"pcm16le\",\"input_sample_rates\":[16000,24000,48000]," +
                   "\"session\":{\"character_id\":\"mina\",\"character_name\":\"Mina\",\"language\":\"en\",\"voice\":null,\"tts_enabled\":true," +
                   "\"tts_mode\":\"realtime\",\"tts_delay_ms\":0,\"model\":\"m\",\"temperature\":0.7,\"max_tokens\":60,\"voice_input\":true," +
                   "\"input_languages\":[\"en\"],\"input_sample_rate\":16000,\"turn_detection\":\"server_vad\",\"barge_in\":true}," +
                   "\"resumed\":null,\"context_messages\":0}";
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            Connection c;
            while (Connections.TryDequeue(out c)) c.Abort();
        }

        private static void Forget(Task t) { t.ContinueWith(x => { var e = x.Exception; }, TaskContinuationOptions.OnlyOnFaulted); }
    }
}
