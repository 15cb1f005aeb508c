namespace Provisioning.Emulator.Portal;

/// <summary>The portal's style sheet and script: plain files, no build step.</summary>
internal static class PortalAssets
{
    public const string Css = """
        :root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f5f7fa; --card:#fff; --accent:#2563eb; --accent-ink:#fff;
          --ok:#15803d; --ok-bg:#dcfce7; --warn:#b45309; --warn-bg:#fef3c7; --bad:#b91c1c; --bad-bg:#fee2e2; --info:#1d4ed8; --info-bg:#dbeafe;
          --mono: ui-monospace, SFMono-Regular, "JetBrains Mono", Menlo, Consolas, monospace; }
        * { box-sizing: border-box; }
        html, body { margin: 0; }
        body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg);
          display: grid; grid-template-columns: 232px 1fr; min-height: 100vh; }
        body.refusal { display: block; }
        code, .mono, pre, textarea.mono { font-family: var(--mono); font-size: 12.5px; }
        a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
        .side { background: #0b1220; color: #cbd5e1; }
        .side-inner { padding: 18px 14px; display: flex; flex-direction: column; gap: 18px; position: sticky; top: 0; height: 100vh; }
        .brand { display: flex; gap: 10px; align-items: center; color: #f8fafc; font-weight: 650; font-size: 15px; padding: 2px 6px; }
        .brand:hover { text-decoration: none; }
        .brand small { display: block; font-weight: 400; font-size: 11.5px; color: #94a3b8; }
        .brand small code { color: #cbd5e1; font-size: 11.5px; }
        .logo { width: 28px; height: 28px; border-radius: 8px; background: linear-gradient(135deg, #38bdf8, #2563eb 60%, #7c3aed); box-shadow: 0 0 0 1px rgba(255,255,255,.15) inset; flex: none; }
        nav { display: flex; flex-direction: column; gap: 2px; }
        nav a { color: #cbd5e1; padding: 7px 10px; border-radius: 7px; }
        nav a:hover { background: #1e293b; color: #fff; text-decoration: none; }
        nav a.active { background: #1e3a8a; color: #fff; }
        .live { margin-top: auto; font-size: 12px; color: #94a3b8; display: flex; align-items: center; gap: 7px; padding: 0 8px; }
        .live .dot { width: 8px; height: 8px; border-radius: 50%; background: #64748b; }
        .live.on .dot { background: #22c55e; box-shadow: 0 0 0 3px rgba(34,197,94,.2); }
        .live.off .dot { background: #ef4444; }
        main { padding: 26px 34px 60px; min-width: 0; max-width: 1320px; }
        header.top h1 { margin: 0; font-size: 22px; font-weight: 650; letter-spacing: -.01em; }
        header.top .sub { margin: 4px 0 0; color: var(--muted); }
        header.top { margin-bottom: 20px; }
        h2 { font-size: 15px; margin: 0 0 12px; font-weight: 650; }
        h2 .count { color: var(--muted); font-weight: 500; margin-left: 4px; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; margin-bottom: 18px; box-shadow: 0 1px 2px rgba(15,23,42,.04); }
        .card.flush { padding: 0; overflow-x: auto; } .card.flush > h2 { padding: 16px 20px 0; }
        .card.narrow { max-width: 560px; margin: 12vh auto; }
        .card h2 + .hint { margin-top: -8px; }
        .hint { color: var(--muted); font-size: 12.5px; margin: 0 0 12px; }
        .grid { display: grid; gap: 18px; }
        .grid.two { grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
        .stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 14px; margin-bottom: 18px; }
        .stat { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
        .stat .n { font-size: 26px; font-weight: 650; letter-spacing: -.02em; }
        .stat .l { color: var(--muted); font-size: 12.5px; }
        .stat a { color: inherit; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 8px 18px; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
        table { width: 100%; border-collapse: collapse; }
        th { text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600;
          padding: 9px 12px; border-bottom: 1px solid var(--line); background: #f8fafc; white-space: nowrap; }
        td { padding: 9px 12px; border-bottom: 1px solid #eef2f6; vertical-align: top; }
        td code { word-break: break-all; }
        td.id { min-width: 18ch; max-width: 30ch; }
        td.nowrap, td.nowrap code { white-space: nowrap; word-break: normal; }
        td.body { min-width: 30ch; word-break: break-word; }
        tr:last-child td { border-bottom: none; }
        tbody tr:hover { background: #f8fafc; }
        tr.fresh { animation: fresh 2.5s ease-out; }
        @keyframes fresh { from { background: #fef9c3; } to { background: transparent; } }
        td.actions { white-space: nowrap; text-align: right; }
        td.actions form { display: inline; }
        .empty { color: var(--muted); padding: 22px 20px; text-align: center; }
        .badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 550; background: #f1f5f9; color: #334155; white-space: nowrap; }
        .badge.ok { background: var(--ok-bg); color: var(--ok); } .badge.bad { background: var(--bad-bg); color: var(--bad); }
        .badge.warn { background: var(--warn-bg); color: var(--warn); } .badge.info { background: var(--info-bg); color: var(--info); }
        .badge.off { background: #f1f5f9; color: #64748b; }
        .dotted::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: currentColor; margin-right: 6px; vertical-align: 1px; }
        .err { color: var(--bad); font-size: 12.5px; }
        .muted { color: var(--muted); }
        .notice { padding: 10px 14px; border-radius: 8px; margin-bottom: 16px; border: 1px solid; }
        .notice.ok { background: #f0fdf4; border-color: #bbf7d0; color: #14532d; }
        .notice.bad { background: #fef2f2; border-color: #fecaca; color: #7f1d1d; }
        form.stack { display: grid; gap: 14px; }
        .field { display: grid; gap: 5px; align-content: start; }
        .field > span, fieldset legend { font-weight: 600; font-size: 13px; }
        .field small, fieldset small { color: var(--muted); font-size: 12px; }
        .row { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 14px; }
        .row.tight { grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); }
        input[type=text], input[type=number], input[type=url], select, textarea { font: inherit; color: inherit; width: 100%; padding: 7px 10px;
          border: 1px solid #cbd5e1; border-radius: 7px; background: #fff; }
        textarea { min-height: 74px; resize: vertical; }
        input:focus, select:focus, textarea:focus { outline: 2px solid #93c5fd; outline-offset: 0; border-color: var(--accent); }
        fieldset { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px 12px; margin: 0; }
        .choices { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-top: 4px; }
        .choices label { display: inline-flex; gap: 6px; align-items: center; font-weight: 400; }
        .tabs { display: flex; gap: 6px; flex-wrap: wrap; }
        .tabs label { border: 1px solid #cbd5e1; border-radius: 8px; padding: 6px 12px; cursor: pointer; display: inline-flex; gap: 7px; align-items: center; font-weight: 550; background: #fff; }
        .tabs label:has(input:checked) { border-color: var(--accent); background: #eff6ff; color: #1e3a8a; }
        .tabs input { accent-color: var(--accent); }
        .js [data-when]:not(.shown) { display: none; }
        button, .button { font: inherit; font-weight: 550; border: 1px solid transparent; border-radius: 7px; padding: 7px 14px; cursor: pointer;
          background: var(--accent); color: var(--accent-ink); display: inline-block; }
        button:hover, .button:hover { filter: brightness(1.08); text-decoration: none; }
        button.quiet, .button.quiet { background: #fff; color: var(--ink); border-color: #cbd5e1; }
        button.danger { background: #fff; color: var(--bad); border-color: #fecaca; }
        button.danger:hover { background: var(--bad-bg); }
        button.small, .button.small { padding: 3px 10px; font-size: 12.5px; }
        .buttons { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
        .secret { font-family: var(--mono); letter-spacing: .12em; color: var(--muted); }
        pre { background: #0b1220; color: #e2e8f0; padding: 12px 14px; border-radius: 8px; overflow: auto; margin: 0; max-height: 340px; white-space: pre-wrap; overflow-wrap: anywhere; }
        pre.light { background: #f8fafc; color: var(--ink); border: 1px solid var(--line); }
        .telemetry td.body { font-family: var(--mono); font-size: 12.5px; }
        .kv { font-family: var(--mono); font-size: 12px; color: var(--muted); }
        .more { padding: 10px 20px; }
        .hint.pad { padding: 0 20px; margin: 4px 0 10px; }
        .crumbs { margin: -12px 0 16px; font-size: 13px; color: var(--muted); }
        .result { margin-top: 12px; }
        .card form + .field { margin-top: 16px; }
        ol.steps { margin: 0; padding-left: 20px; display: grid; gap: 8px; }
        ol.steps pre { margin-top: 6px; }
        .brand-line { display: flex; gap: 10px; align-items: center; font-weight: 600; color: var(--muted); margin-bottom: 14px; }
        .brand-line .logo { width: 22px; height: 22px; border-radius: 6px; }
        .refusal .card h1 { font-size: 19px; margin: 0 0 8px; }
        .refusal .card p { margin: 0; color: #334155; }
        .split { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; }
        @media (max-width: 860px) { body { grid-template-columns: 1fr; } .side { position: static; height: auto; } main { padding: 18px; } }
        """;

    public const string Script = """
        "use strict";
        (() => {
          document.documentElement.classList.add("js");
          // Forms: show the fields of the chosen option (every field shows without script).
          const sync = () => document.querySelectorAll("[data-when]").forEach(el => {
            const [name, values] = el.dataset.when.split("=");
            const chosen = document.querySelector(`input[name="${name}"]:checked, select[name="${name}"]`);
            el.classList.toggle("shown", !!chosen && values.split("|").includes(chosen.value));
          });
          document.addEventListener("change", sync);
          sync();
          document.addEventListener("submit", e => {
            const message = e.target.dataset.confirm;
            if (message && !confirm(message)) e.preventDefault();
          });
          // Live regions: fetched again every 1.5 s while the page is visible, replaced when they changed.
          const regions = [...document.querySelectorAll("[data-live]")];
          const status = document.getElementById("live-status");
          const show = (on, text) => { if (status) { status.className = "live " + (on ? "on" : "off"); status.querySelector(".label").textContent = text; } };
          if (!regions.length) { if (status) status.querySelector(".label").textContent = "static page"; return; }
          let busy = false;
          const tick = async () => {
            if (busy || document.hidden) return;
            busy = true;
            try {
              for (const region of regions) {
                const answer = await fetch(region.dataset.live, { credentials: "same-origin", cache: "no-store" });
                if (answer.status === 401) { show(false, "signed out"); return; }
                if (!answer.ok) { show(false, "error " + answer.status); continue; }
                const html = await answer.text();
                if (html === region.dataset.last) continue;
                const seen = new Set([...region.querySelectorAll("[data-key]")].map(r => r.dataset.key));
                region.innerHTML = html;
                region.dataset.last = html;
                region.querySelectorAll("[data-key]").forEach(r => { if (!seen.has(r.dataset.key)) r.classList.add("fresh"); });
              }
              show(true, "live");
            } catch { show(false, "offline"); } finally { busy = false; }
          };
          regions.forEach(r => r.dataset.last = r.innerHTML);
          show(true, "live");
          setInterval(tick, 1500);
        })();
        """;
}
