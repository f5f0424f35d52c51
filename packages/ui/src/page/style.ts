/** The page's styles (inlined into the one JS file, so reports need no other file). */
export const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;background:#fafafa}
.q-header{display:flex;gap:16px;align-items:center;padding:8px 16px;background:#fff;border-bottom:1px solid #ddd;position:sticky;top:0;z-index:5}
.q-header a{color:#555;text-decoration:none}.q-header a.q-active{color:#000;font-weight:600}
.q-source{margin-left:auto;color:#777;font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
main{padding:12px 16px}
h2{font-size:14px;margin:18px 0 8px}
.q-toolbar{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin-bottom:8px}
.q-toolbar input[type=number]{width:64px;margin-left:4px}
.q-filter-row{margin-bottom:6px}.q-filter{width:100%;max-width:640px;padding:4px 6px}
.q-error-box{color:#a00;background:#fee;border:1px solid #fcc;padding:6px 8px;margin:6px 0;white-space:pre-wrap;font-family:ui-monospace,monospace}
.q-error-box[hidden]{display:none}
.q-table{background:#fff;border:1px solid #ddd}
.q-table-status{padding:4px 8px;color:#666;border-bottom:1px solid #eee}
.q-table-scroll{height:300px;overflow:auto;position:relative;contain:strict}
.q-thead{position:sticky;top:0;height:26px;background:#f3f3f3;z-index:2}
.q-th,.q-td{position:absolute;top:0;width:112px;padding:0 6px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;height:24px;line-height:24px}
.q-th{cursor:pointer;font-weight:600;height:26px;line-height:26px;border-right:1px solid #e4e4e4}
.q-td{text-align:right;font-variant-numeric:tabular-nums}
.q-th.q-id,.q-td.q-id{position:sticky;left:0;display:block;background:inherit;text-align:left;z-index:1;border-right:1px solid #e4e4e4}
.q-thead .q-id{background:#f3f3f3}
.q-tbody{position:relative}
.q-tr{position:absolute;left:0;right:0;height:24px;cursor:pointer;background:#fff;border-bottom:1px solid #f2f2f2}
.q-tr:hover{background:#f5f9ff}.q-tr.q-on{background:#eef4ff}
.q-check{margin-right:4px}
.q-swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:middle}
.q-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
.q-panel{background:#fff;border:1px solid #ddd;padding:6px;min-height:280px}
.q-panel-title{font-weight:600;margin-bottom:4px}
.q-note{font-weight:400;color:#888;font-size:12px}.q-note.q-error{color:#a00}
.q-plot{width:100%;min-height:220px}
.q-legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;color:#444;margin-top:2px}
.q-empty{color:#888}
`;
