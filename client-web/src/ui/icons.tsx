/** Small inline icons (no emoji: not every system has a font for them). */
const common = { width: 14, height: 14, viewBox: '0 0 24 24', 'aria-hidden': true } as const;

export function MicIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round">
      <rect x="9" y="3" width="6" height="11" rx="3" fill="currentColor" />
      <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
    </svg>
  );
}

export function SpeakerIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round">
      <path d="M4 9h4l5-4v14l-5-4H4z" fill="currentColor" />
      <path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12" />
    </svg>
  );
}

export function StopIcon() {
  return (
    <svg {...common} fill="currentColor"><rect x="6" y="6" width="12" height="12" rx="1.5" /></svg>
  );
}
