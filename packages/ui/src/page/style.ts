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
.q-toolbar button{padding:2px 8px}
.q-timeline-grid,.q-arrays-grid{display:grid;grid-template-columns:260px 1fr;gap:12px;align-items:start}
.q-tree,.q-h5ls{background:#fff;border:1px solid #ddd;padding:6px;max-height:calc(100vh - 90px);overflow:auto;font-size:12px}
.q-tree a{color:#333;text-decoration:none;font-weight:600}.q-tree a.q-active{color:#000}
.q-tree-group{color:#777}.q-tree-track{display:block;white-space:nowrap;cursor:pointer}
.q-transport .q-scrub{flex:1;min-width:240px}.q-clock{font-variant-numeric:tabular-nums;min-width:110px}
.q-cursor{position:absolute;top:0;bottom:0;left:0;width:0;border-left:1.5px solid #e00;pointer-events:none;z-index:3}
.q-track-panels{display:grid;gap:10px}.q-track-panel{min-height:0}
.q-logs-panel{margin-top:10px;min-height:0}.q-logs-plot{min-height:90px}
.q-logs-list{max-height:180px;overflow:auto;font:12px ui-monospace,monospace;border-top:1px solid #eee}
.q-log{padding:1px 4px;cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.q-log:hover{background:#f5f9ff}
.q-log.q-at{background:#fff3c4}.q-log-ts{color:#888;margin-right:8px}.q-log-level{display:inline-block;width:44px;font-weight:600}
.q-log-error .q-log-level{color:#d62728}.q-log-warn .q-log-level{color:#ff7f0e}.q-log-info .q-log-level{color:#1f77b4}
.q-points{margin-top:10px;min-height:0}.q-points-scroll{overflow:auto;max-height:300px}
.q-points-table{border-collapse:collapse;font:12px ui-monospace,monospace}.q-points-table th,.q-points-table td{padding:2px 8px;border-bottom:1px solid #f0f0f0;text-align:right;white-space:nowrap}
.q-points-table tr.q-at td{background:#fff3c4;font-weight:600}
.q-h5-row{display:grid;grid-template-columns:1fr auto auto;gap:8px;padding:2px 6px;cursor:pointer;font:12px ui-monospace,monospace;white-space:nowrap}
.q-h5-row:hover{background:#f5f9ff}.q-h5-row.q-active{background:#eef4ff;font-weight:600}.q-h5-kind{color:#666}.q-h5-dtype{color:#999}
.q-frame-wrap{display:flex;gap:14px;align-items:flex-start;margin-top:6px}.q-frame{image-rendering:pixelated;border:1px solid #ddd;background:#000}
.q-frame-info{font-size:12px;color:#444}.q-colorbar{display:inline-block;width:120px;height:10px;vertical-align:middle;border:1px solid #ccc}
.q-gallery-grid{display:grid;grid-template-columns:220px 1fr auto;gap:12px;align-items:start}
.q-facets{background:#fff;border:1px solid #ddd;padding:6px;max-height:calc(100vh - 130px);overflow:auto;font-size:12px}
.q-facet summary{cursor:pointer;font-weight:600;margin:4px 0}
.q-facet-value{display:flex;justify-content:space-between;width:100%;border:0;background:none;padding:1px 4px;cursor:pointer;font:inherit;text-align:left}
.q-facet-value:hover{background:#eef4ff}
.q-grid-scroll{height:calc(100vh - 130px);overflow:auto;position:relative;background:#fff;border:1px solid #ddd;contain:strict}
.q-grid-spacer{width:1px}.q-grid-cells{position:absolute;top:0;left:0}
.q-cell{position:absolute;width:150px;height:172px;padding:4px;cursor:pointer;border-radius:3px;overflow:hidden}
.q-cell:hover{background:#f5f9ff}.q-cell.q-on{background:#eef4ff;outline:2px solid #1f77b4}
.q-thumb{object-fit:contain;background:#f3f3f3;display:block}
.q-icon{width:140px;height:140px;display:flex;align-items:center;justify-content:center;background:#f3f3f3;color:#666;font-weight:700;border:1px dashed #ccc}
.q-cell-name{font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.q-dp{width:360px;background:#fff;border:1px solid #ddd;padding:8px;max-height:calc(100vh - 130px);overflow:auto;font-size:12px}
.q-dp:empty{display:none}.q-dp-preview{max-width:100%;display:block;margin:6px 0;image-rendering:pixelated}
.q-dp-meta{border-collapse:collapse;margin-top:6px;width:100%}.q-dp-meta th{text-align:left;padding:2px 6px 2px 0;color:#555;vertical-align:top}
.q-dp-meta td{word-break:break-all;padding:2px 0}.q-blob-img{max-width:200px;image-rendering:pixelated}
`;
