using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace AvatarRealtime.Core.Net
{
    /// <summary>
    /// What the session will send, in order, through one writer. Each connection has an epoch:
    /// control messages (JSON) wait out a reconnect and go to the next connection; audio frames and
    /// playback marks are "droppable" and never cross to a newer connection (stale microphone audio,
    /// marks for a response that no longer exists). While disconnected the backlog is bounded.
    /// </summary>
    internal sealed class Outbox
    {
        internal sealed class Item
        {
            public string Text;
            public byte[] Binary;
            public bool Droppable;
            public bool Close;
            public int Epoch;
        }

        private readonly object _lock = new object();
        private readonly SemaphoreSlim _signal = new SemaphoreSlim(0);
        private readonly List<string> _sessionUpdates = new List<string>();
        private readonly int _maxQueued;
        private LinkedList<Item> _items = new LinkedList<Item>();
        private int _epoch;

        public Outbox(int maxQueued) { _maxQueued = maxQueued; }

        public int Dropped { get; private set; }

        /// <summary>A new connection opened: its epoch.</summary>
        public int NextEpoch()
        {
            lock (_lock) return ++_epoch;
        }

        /// <summary>Queue an item; <paramref name="open"/>: a connection is ready to send it.</summary>
        public void Add(Item item, bool open, bool isSessionUpdate = false)
        {
            lock (_lock)
            {
                if (isSessionUpdate) _sessionUpdates.Add(item.Text);
                if (item.Droppable && !open)
                {
                    Dropped++;
                    return;
                }
                item.Epoch = _epoch;
                _items.AddLast(item);
                while (_items.Count > _maxQueued && !open) _items.RemoveFirst();
            }
            _signal.Release();
        }

        /// <summary>A close frame after everything queued.</summary>
        public void AddClose()
        {
            lock (_lock) _items.AddLast(new Item { Close = true, Epoch = _epoch });
            _signal.Release();
        }

        /// <summary>Put back a control message that could not be sent (it goes first next time).</summary>
        public void PutBack(Item item)
        {
            if (item.Droppable || item.Close) return;
            lock (_lock) _items.AddFirst(item);
        }

        /// <summary>A reconnected session: the session.update messages sent so far go first again
        /// (copies already queued are dropped, they would be sent twice).</summary>
        public void ReplaySessionUpdates(int epoch)
        {
            lock (_lock)
            {
                var replay = new List<string>(_sessionUpdates);
                var keep = new LinkedList<Item>();
                foreach (var o in _items) if (o.Text == null || !replay.Contains(o.Text)) keep.AddLast(o);
                for (int i = replay.Count - 1; i >= 0; i--) keep.AddFirst(new Item { Text = replay[i], Epoch = epoch });
                _items = keep;
            }
            _signal.Release();
        }

        public void Wake() { _signal.Release(); }

        public Task WaitAsync(CancellationToken token) { return _signal.WaitAsync(token); }

        /// <summary>The next item for the connection of <paramref name="epoch"/>, or null.</summary>
        public Item Take(int epoch)
        {
            lock (_lock)
            {
                while (_items.Count > 0)
                {
                    var o = _items.First.Value;
                    _items.RemoveFirst();
                    if (o.Droppable && o.Epoch != epoch) { Dropped++; continue; }
                    return o;
                }
                return null;
            }
        }
    }
}
