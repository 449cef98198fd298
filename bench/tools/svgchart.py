"""A dependency-free SVG chart: one small bar panel per measure, one bar per proxy, values printed on
the bars and Tether's ratio to each peer under them, coloured by whether Tether is ahead."""
from dataclasses import dataclass
from xml.sax.saxutils import escape

COLORS = {"tether": "#e8590c", "nginx": "#2f9e44", "haproxy": "#1c7ed6"}
GOOD, MIXED, BAD, GREY = "#2b8a3e", "#b07d00", "#c92a2a", "#868e96"

COLUMNS = 3
PANEL_W, PANEL_H = 410, 150
LABEL_W, BAR_MAX, BAR_H, BAR_GAP = 72, 240, 22, 8
TOP = 78


@dataclass
class Panel:
    title: str
    better: str            # "higher is better" | "lower is better"
    values: dict           # proxy -> number or None
    kind: str              # rps | ms | kb | us | count
    missing: str = "not measured"   # what a bar without a value says


def fmt(v: float, kind: str, chart: bool = False) -> str:
    """A measure as the report's tables (chart=False) or the chart's bar labels (chart=True) print it."""
    units = {"ms": " ms", "kb": " KB", "us": " µs", "pct": "%"}
    if kind == "rps":
        return f"{v / 1000:.1f}k" if chart and v >= 10000 else f"{v:,.0f}"
    if kind == "ms":
        s = f"{v:.2f}" if v < 100 else f"{v:.0f}"
    elif kind == "kb":
        s = f"{v:.2f}"
    elif kind in ("us", "pct"):
        s = f"{v:.1f}"
    else:
        s = f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"
    return s + units.get(kind, "") if chart else s


def text(x: float, y: float, s: str, size: int = 12, fill: str = "#212529", anchor: str = "start", weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" '
            f'font-weight="{weight}">{escape(s)}</text>')


def ratio_line(panel: Panel, names: dict) -> tuple:
    t = panel.values.get("tether")
    if t is None:
        return ("Tether not measured", GREY) if panel.missing == "not measured" else (f"Tether: {panel.missing}", BAD)
    parts, wins = [], []
    for peer in ("nginx", "haproxy"):
        v = panel.values.get(peer)
        if v is None or v == 0:
            continue
        r = t / v
        parts.append(f"{r:.2f}× {names[peer]}")
        wins.append(r >= 1 if panel.better.startswith("higher") else r <= 1)
    if not parts:
        return "", GREY
    color = GOOD if all(wins) else (BAD if not any(wins) else MIXED)
    return "Tether = " + ", ".join(parts), color


def panel_svg(x: float, y: float, panel: Panel, proxies: list, names: dict) -> list:
    out = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{PANEL_W - 12}" height="{PANEL_H - 12}" rx="6" fill="#f8f9fa" stroke="#dee2e6"/>']
    out.append(text(x + 10, y + 20, panel.title, 13, weight="bold"))
    out.append(text(x + PANEL_W - 22, y + 20, panel.better, 10, GREY, "end"))
    present = [v for v in panel.values.values() if v is not None]
    top = max(present) if present else 0
    for i, p in enumerate(proxies):
        by = y + 32 + i * (BAR_H + BAR_GAP)
        out.append(text(x + LABEL_W, by + BAR_H - 6, names[p], 12, anchor="end"))
        v = panel.values.get(p)
        if v is None:
            out.append(text(x + LABEL_W + 8, by + BAR_H - 6, panel.missing if p == "tether" else "not measured", 11,
                            BAD if panel.missing != "not measured" and p == "tether" else GREY))
            continue
        w = max(1.0, BAR_MAX * v / top) if top > 0 else 1.0
        out.append(f'<rect x="{x + LABEL_W + 6:.1f}" y="{by:.1f}" width="{w:.1f}" height="{BAR_H}" rx="2" fill="{COLORS[p]}"/>')
        out.append(text(x + LABEL_W + 12 + w, by + BAR_H - 6, fmt(v, panel.kind, chart=True), 12, weight="bold" if p == "tether" else "normal"))
    line, color = ratio_line(panel, names)
    out.append(text(x + 10, y + PANEL_H - 22, line, 11, color, weight="bold"))
    return out


def render(title: str, subtitle: str, panels: list, proxies: list, warning: str = "") -> str:
    order = [p for p, _ in proxies]
    names = dict(proxies)
    rows = (len(panels) + COLUMNS - 1) // COLUMNS
    width, height = COLUMNS * PANEL_W + 20, TOP + rows * PANEL_H + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           text(16, 28, title, 18, weight="bold"),
           text(16, 48, subtitle, 11, GREY)]
    if warning:
        out.append(text(width - 16, 28, warning, 12, BAD, "end", "bold"))
    lx = 16
    for p in order:
        out.append(f'<rect x="{lx}" y="58" width="12" height="12" fill="{COLORS[p]}"/>')
        out.append(text(lx + 17, 69, names[p], 12))
        lx += 100
    out.append(text(lx + 20, 69, "Ratio line: green = Tether ahead of both peers, amber = of one, red = of neither", 11, GREY))
    for i, panel in enumerate(panels):
        col, row = i % COLUMNS, i // COLUMNS
        out += panel_svg(10 + col * PANEL_W, TOP + row * PANEL_H, panel, order, names)
    out.append("</svg>")
    return "\n".join(out) + "\n"
