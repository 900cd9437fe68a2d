/**
 * The operator view at /operator (the seeds' control panel): the GPU plan in force, VRAM by
 * service as a bar, each service's state (resident / asleep / stopped), the avatar jobs' leases
 * (queued, running, preempted), recent plan switches and the mode switch. It polls
 * GET /api/system/gpu once a second and never opens the conversation WebSocket (connecting is a
 * live signal: it would take the GPU back from the jobs it is watching).
 */
import { useCallback, useEffect, useState } from 'react';
import {
  fetchGpuStatus, MODES, planLabel, requestMode, vramSegments,
  type ApiError, type GpuStatus, type Mode, type ModeSwitch,
} from './api';

const POLL_MS = 1000;
const token = new URLSearchParams(window.location.search).get('token');

const mb = (v: number) => `${(v / 1024).toFixed(1)} GB`;
const ago = (epochS: number | null) => (epochS == null ? '—' : `${Math.max(0, Math.round(Date.now() / 1000 - epochS))} s ago`);

function useGpuStatus(): [GpuStatus | null, ApiError | null, () => void] {
  const [status, setStatus] = useState<GpuStatus | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const refresh = useCallback(() => {
    void fetchGpuStatus(token).then((r) => {
      if (r.ok) { setStatus(r.data); setError(null); } else setError(r.error);
    });
  }, []);
  useEffect(() => {
    refresh();
    const id = setInterval(refresh, POLL_MS);
    return () => clearInterval(id);
  }, [refresh]);
  return [status, error, refresh];
}

function VramBar({ vram }: { vram: GpuStatus['vram'] }) {
  const segments = vramSegments(vram);
  return (
    <section className="op-card">
      <h2>VRAM <span className="op-muted" data-testid="vram-text">
        {mb(vram.used_mb)} of {mb(vram.total_mb)} ({vram.usage_percent.toFixed(1)} %) · {vram.device.name}
        {vram.device.kind === 'simulated' ? ' (simulated)' : ''}
      </span></h2>
      <div className="op-bar" data-testid="vram-bar">
        {segments.map((s) => (
          <div key={s.name} className={`op-seg op-seg-${s.name} op-state-${s.state}`} style={{ width: `${s.percent}%` }}
               data-testid={`vram-seg-${s.name}`} data-mb={s.mb} title={`${s.name}: ${mb(s.mb)}`}>
            {s.percent > 7 ? s.name : ''}
          </div>
        ))}
      </div>
      <div className="op-muted">peak {mb(vram.device.peak_mb)} · headroom {mb(vram.device.headroom_mb)}</div>
    </section>
  );
}

function Services({ status }: { status: GpuStatus }) {
  return (
    <section className="op-card">
      <h2>Services</h2>
      <table className="op-table">
        <thead><tr><th>service</th><th>state</th><th>VRAM</th><th>verbs</th><th>last switch</th></tr></thead>
        <tbody>
          {status.vram.services.map((s) => (
            <tr key={s.name} data-testid={`svc-${s.name}`} data-state={s.state}>
              <td>{s.name}</td>
              <td><span className={`op-state op-state-${s.state}`}>{s.state === 'asleep' ? 'asleep (sleeping)' : s.state === 'resident' ? 'awake' : s.state}</span>
                {s.detail && <div className="op-error">{s.detail}</div>}</td>
              <td>{mb(s.mb)}</td>
              <td className="op-muted">{s.verbs.join(', ')}</td>
              <td className="op-muted">{ago(s.last_switch)}{s.last_switch_s != null ? ` (${s.last_switch_s.toFixed(2)} s)` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Jobs({ status }: { status: GpuStatus }) {
  const leases = [...status.leases].reverse();
  return (
    <section className="op-card">
      <h2>Jobs <span className="op-muted">idle window {status.policy.idle_window_s} s × {status.policy.backoff}
        {status.policy.quiet_s != null ? ` · quiet ${status.policy.quiet_s.toFixed(0)} s` : ''}
        {status.policy.last_live ? ` · last live: ${status.policy.last_live}` : ''}</span></h2>
      {leases.length === 0 ? <div className="op-muted" data-testid="leases-empty">no avatar jobs</div> : (
        <table className="op-table" data-testid="leases">
          <thead><tr><th>job</th><th>stage</th><th>plan</th><th>state</th><th>progress</th><th>waiting</th></tr></thead>
          <tbody>
            {leases.map((l) => (
              <tr key={l.lease_id} data-testid={`lease-${l.job_id}`} data-state={l.state}>
                <td>{l.job_id}</td><td>{l.stage}</td><td>{l.plan}</td>
                <td><span className={`op-state op-lease-${l.state}`}>{l.state === 'granted' ? 'running' : l.state}</span>
                  {l.protected ? ' (protected)' : ''}</td>
                <td>{l.progress == null ? '—' : `${Math.round(l.progress * 100)} %`}</td>
                <td>{l.job_waiting_s.toFixed(0)} s</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ModeSwitcher({ status, onDone }: { status: GpuStatus; onDone: () => void }) {
  const [busy, setBusy] = useState<Mode | null>(null);
  const [result, setResult] = useState<{ ok: true; data: ModeSwitch } | { ok: false; error: ApiError } | null>(null);
  const choose = async (mode: Mode) => {
    setBusy(mode);
    const r = await requestMode(mode, token);
    setResult(r);
    setBusy(null);
    onDone();
  };
  return (
    <section className="op-card">
      <h2>Mode <span className="op-muted">now: <b data-testid="mode">{status.mode}</b></span></h2>
      <div className="op-modes">
        {MODES.map((m) => (
          <button key={m} type="button" data-testid={`mode-${m}`} disabled={busy !== null}
                  className={status.mode === m ? 'op-active' : ''} onClick={() => void choose(m)}>
            {busy === m ? `${m}…` : m}
          </button>
        ))}
      </div>
      <div data-testid="mode-result" data-ok={result ? String(result.ok) : ''}>
        {result?.ok && `${result.data.previous_mode} → ${result.data.current_mode} in ${result.data.switch_time_ms} ms`}
        {result && !result.ok && <span className="op-error">{result.error.status} {result.error.code}: {result.error.message}</span>}
      </div>
    </section>
  );
}

export function Operator() {
  const [status, error, refresh] = useGpuStatus();
  return (
    <div className="op">
      <header className="op-top">
        <h1>GPU</h1>
        {status && (
          <>
            <span className={`pill op-plan${status.ready ? ' op-ready' : ''}`} data-testid="plan" data-plan={status.plan}>
              <span className="dot" /> {planLabel(status.plan)}
            </span>
            {status.switching && <span className="pill pill-warn" data-testid="switching">switching to {status.switching}</span>}
            <span className="op-muted">{status.host === 'remote' ? 'gpu_host service' : 'embedded scheduler'}</span>
          </>
        )}
        {error && <span className="op-error" data-testid="op-error">{error.code}: {error.message}</span>}
        {status?.error && <span className="op-error" data-testid="switch-error">{status.error}</span>}
      </header>
      {status ? (
        <main className="op-grid">
          <VramBar vram={status.vram} />
          <ModeSwitcher status={status} onDone={refresh} />
          <Services status={status} />
          <Jobs status={status} />
          <section className="op-card">
            <h2>Recent switches</h2>
            <ul className="op-switches" data-testid="switches">
              {status.switches.slice(0, 8).map((s) => (
                <li key={`${s.at}-${s.to}`}>{ago(s.at)}: {s.from} → {s.to} <b>{s.result}</b> {s.took_s.toFixed(2)} s
                  {s.error ? <span className="op-error"> {s.error}</span> : null}</li>
              ))}
            </ul>
          </section>
        </main>
      ) : <main className="op-grid op-muted">Loading…</main>}
    </div>
  );
}
