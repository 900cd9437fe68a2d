using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace AvatarRealtime.Tests
{
    /// <summary>A loopback TCP proxy in front of the real server: <see cref="DropAll"/> cuts every
    /// connection (a network failure); while <see cref="Down"/> it accepts and closes at once (a
    /// server that is not there).</summary>
    public sealed class TcpProxy : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly string _host;
        private readonly int _port;
        private readonly List<TcpClient> _open = new List<TcpClient>();
        private int _accepted;
        public volatile bool Down;

        public TcpProxy(Uri target)
        {
            _host = target.Host;
            _port = target.Port;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            Task.Run(() => AcceptLoop());
        }

        public int Port { get; private set; }
        public int Accepted { get { return Volatile.Read(ref _accepted); } }

        /// <summary>The target URL with the proxy's port.</summary>
        public Uri Wrap(Uri url)
        {
            var b = new UriBuilder(url) { Host = "127.0.0.1", Port = Port };
            return b.Uri;
        }

        private async Task AcceptLoop()
        {
            while (true)
            {
                TcpClient c;
                try { c = await _listener.AcceptTcpClientAsync().ConfigureAwait(false); }
                catch (Exception) { return; }
                Interlocked.Increment(ref _accepted);
                if (Down) { c.Close(); continue; }
                Forget(Task.Run(() => Pipe(c)));
            }
        }

        private async Task Pipe(TcpClient client)
        {
            var upstream = new TcpClient();
            try { await upstream.ConnectAsync(_host, _port).ConfigureAwait(false); }
            catch (Exception) { client.Close(); return; }
            lock (_open) { _open.Add(client); _open.Add(upstream); }
            var a = Copy(client.GetStream(), upstream.GetStream());
            var b = Copy(upstream.GetStream(), client.GetStream());
            await Task.WhenAny(a, b).ConfigureAwait(false);
            client.Close();
            upstream.Close();
        }

        private static async Task Copy(NetworkStream from, NetworkStream to)
        {
            var buf = new byte[16384];
            try
            {
                int n;
                while ((n = await from.ReadAsync(buf, 0, buf.Length).ConfigureAwait(false)) > 0)
                    await to.WriteAsync(buf, 0, n).ConfigureAwait(false);
            }
            catch (Exception) { /* cut */ }
        }

        /// <summary>Cut every open connection, both ways.</summary>
        public void DropAll()
        {
            lock (_open)
            {
                foreach (var c in _open)
                {
                    try { c.Client.LingerState = new LingerOption(true, 0); c.Close(); } catch (Exception) { }
                }
                _open.Clear();
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            DropAll();
        }

        private static void Forget(Task t) { t.ContinueWith(x => { var e = x.Exception; }, TaskContinuationOptions.OnlyOnFaulted); }
    }
}
