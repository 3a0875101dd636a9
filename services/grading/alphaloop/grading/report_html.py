"""``report.html``: one self-contained page (plots as base64 PNGs from matplotlib's Agg backend,
no external assets): the verdict, the grade table, equity curves against the benchmark,
drawdowns, the calibration curve and the top 20 feature importances."""

from __future__ import annotations

import base64
import html
import io
from typing import Any


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def _figure(w: float = 8, h: float = 4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _equity_plots(report: Any) -> tuple[str, str]:
    fig, ax = _figure()
    fig2, ax2 = _figure()
    for name, eq in report.equity.items():
        if eq is None or eq.empty:
            continue
        curve = eq / eq.iloc[0]
        style = {"color": "black", "linewidth": 2.5} if name == "buy_and_hold" else {}
        ax.plot(curve.index, curve.to_numpy(), label=name, **style)
        dd = curve / curve.cummax() - 1
        ax2.plot(dd.index, dd.to_numpy(), label=name, **style)
    ax.set_title("equity (out of sample, after costs; 1 = start)")
    ax.legend(fontsize="small")
    ax2.set_title("drawdown")
    ax2.legend(fontsize="small")
    fig.autofmt_xdate()
    fig2.autofmt_xdate()
    return _png(fig), _png(fig2)


def _calibration_plot(report: Any) -> str:
    fig, ax = _figure(5, 5)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for key, curve in (report.calibration_curve or {}).items():
        pts = [(b["mean_predicted"], b["fraction_positive"]) for b in curve if b.get("count")]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", label=key.replace("_", " "))
    ax.set_xlabel("predicted p(up)")
    ax.set_ylabel("observed frequency")
    ax.set_title("calibration curve")
    ax.legend(fontsize="small")
    return _png(fig)


def _importance_plot(report: Any) -> str:
    imp = report.importances
    if imp is None or imp.empty:
        return "<p>no importances</p>"
    top = imp.sort_values("importance", ascending=False).head(20).iloc[::-1]
    fig, ax = _figure(7, 6)
    ax.barh(top["feature"].astype(str), top["importance"].to_numpy())
    ax.set_title("feature importances (top 20)")
    return _png(fig)


def _fmt(v: Any, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def _grade_table(report: Any) -> str:
    rows = []
    for name, s in report.data["strategies"].items():
        m = s["metrics"]
        rows.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                name, _fmt(m.get("sharpe"), ".2f"), _fmt(m.get("total_return"), "+.2%"),
                _fmt(s.get("gross_total_return"), "+.2%"), _fmt(m.get("max_drawdown"), ".2%"),
                _fmt(m.get("deflated_sharpe"), ".2f"), _fmt(m.get("auc"), ".3f"),
                f"{s['score']:.1f}", s["level"], "yes" if s["promoted"] else "no",
                "; ".join(s["gate_failures"]) or "passed")) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in (
        "strategy", "Sharpe", "total return", "gross return", "max DD", "DSR", "AUC", "score",
        "level", "promoted", "gate"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _meta_rows(report: Any) -> str:
    """One line per model with a meta-label model: its scores next to the primary's precision
    on the same trades (what the filter has to beat)."""
    rows = []
    for key, m in report.data["models"].items():
        meta = m.get("meta")
        if not meta:
            continue
        cv, oof, test = meta["cv"], meta["oof"], meta["test"]
        rows.append(
            f"<p>Meta-label model of {html.escape(key)} ({html.escape(str(meta['model_class']))}"
            f", trades kept where p_meta &gt;= {meta['threshold']:g}): CV AUC "
            f"{_fmt(cv.get('auc'), '.3f')}, CV precision {_fmt(cv.get('precision'), '.3f')} vs "
            f"the primary's {_fmt(oof.get('primary_precision'), '.3f')}; test AUC "
            f"{_fmt(test.get('auc'), '.3f')}, test precision {_fmt(test.get('precision'), '.3f')}"
            f" vs {_fmt(test.get('primary_precision'), '.3f')} (keeps "
            f"{_fmt(test.get('kept'), '.0%')} of the test trades).</p>")
    return "".join(rows)


def render_html(report: Any) -> str:
    d = report.data
    equity, drawdown = _equity_plots(report)
    model_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(m['cv'].get('auc'), '.3f')}</td>"
        f"<td>{_fmt(m['test'].get('auc'), '.3f')}</td>"
        f"<td>{_fmt(m['calibration']['test'].get('ece_before'), '.4f')} -> "
        f"{_fmt(m['calibration']['test'].get('ece_after'), '.4f')}</td>"
        f"<td>{_fmt(m['calibration']['test'].get('brier_before'), '.4f')} -> "
        f"{_fmt(m['calibration']['test'].get('brier_after'), '.4f')}</td>"
        f"<td>{html.escape(str(m['mlflow_run_id']))}</td><td>{m['model_version']}</td>"
        f"<td>{m['alias']}</td></tr>" for k, m in d["models"].items())
    timings = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.2f}s</td></tr>"
                      for k, v in d["timings"].items())
    sp, da = d["splits"], d["data"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>AlphaLoop run {d['created']}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px}}.verdict{{font-size:18px;background:#f4f4f4;padding:10px}}</style>
</head><body>
<h1>AlphaLoop run {d['created']}</h1>
<p class="verdict" id="verdict">{html.escape(d['verdict'])}</p>
<p>{html.escape(d['note'])}</p>
<p>Data: {da['symbols']} symbols, {da['start'][:10]} to {da['end'][:10]} ({', '.join(da['sources'])}).
Train {sp['train_start'][:10]} to {sp['train_end'][:10]}; out-of-sample decisions
{sp['oos_decisions_start'][:10]} to {sp['oos_decisions_end'][:10]} ({sp['oos_bars']} bars).</p>
<h2>Grades</h2>{_grade_table(report)}
<h2>Equity vs benchmark</h2>{equity}
<h2>Drawdowns</h2>{drawdown}
<h2>Models</h2><table><tr><th>model</th><th>CV AUC</th><th>test AUC</th><th>test ECE before -> after</th>
<th>test Brier before -> after</th><th>MLflow run</th><th>version</th><th>alias</th></tr>{model_rows}</table>
{_meta_rows(report)}
<h2>Calibration</h2>{_calibration_plot(report)}
<h2>Feature importances</h2>{_importance_plot(report)}
<h2>Timings</h2><table>{timings}</table>
</body></html>
"""
