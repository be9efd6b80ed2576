/// The report's stylesheet, inlined (the file opens offline and fetches nothing).
enum ReportStyle {
    static let css = """
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
    header { background: #1d2330; color: #fff; padding: 18px 32px; }
    header h1 { margin: 0; font-size: 22px; font-weight: 600; }
    header p { margin: 4px 0 0; color: #c9cfdb; }
    main { padding: 8px 32px 40px; max-width: 1280px; }
    section { background: #fff; border: 1px solid #e1e4ea; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
    h2 { font-size: 17px; margin: 0 0 10px; }
    h3 { font-size: 15px; margin: 14px 0 6px; }
    table { border-collapse: collapse; margin: 4px 0; }
    th, td { border: 1px solid #e1e4ea; padding: 3px 9px; text-align: right; font-variant-numeric: tabular-nums; }
    th { background: #f0f2f5; font-weight: 600; }
    td:first-child, th:first-child { text-align: left; }
    table.identity td { text-align: left; }
    .plots { display: flex; flex-wrap: wrap; gap: 8px; }
    svg.plot { background: #fff; }
    svg.plot .title { font-weight: 600; font-size: 13px; }
    svg.plot .tick, svg.plot .legend text, svg.plot .marker text { font-size: 11px; fill: #444; }
    svg.plot .axis-label { font-size: 12px; fill: #333; }
    svg.plot .grid { stroke: #eceef2; }
    svg.plot .frame { fill: none; stroke: #b8bec9; }
    svg.plot .marker line { stroke: #009E73; stroke-dasharray: 3 3; }
    svg.plot .marker text { fill: #009E73; }
    svg.plot .empty { fill: #888; }
    .problems { border-color: #e6b3a0; background: #fff6f2; }
    .problems li, .missing { color: #a13d12; }
    .grid { display: flex; flex-wrap: wrap; gap: 10px; }
    figure { margin: 0; padding: 4px; border: 3px solid #ccc; border-radius: 4px; font-size: 11px; text-align: center; }
    figure.right { border-color: #8fd0b5; }
    figure.wrong { border-color: #eba68a; }
    figure img { display: block; image-rendering: pixelated; margin: 0 auto 3px; }
    pre { background: #f6f7f9; padding: 10px; overflow-x: auto; font-size: 12px; }
    details summary { cursor: pointer; font-weight: 600; }
    .best { background: #e9f6f0; }
    """
}
