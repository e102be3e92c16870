// The one stylesheet, served at /static/ by the server itself: system fonts only, high contrast, one column that
// fits 390 px and widens to 64 rem on a desktop. No inline styles anywhere (the CSP allows only 'self').
export const STYLESHEET = `
:root{--fg:#111;--bg:#fff;--muted:#3d3d3d;--line:#8a8a8a;--soft:#f2f4f7;--link:#0b4a9e;--accent:#0b4a9e;
--ok:#0b5d1e;--ok-bg:#e3f3e6;--bad:#9b1111;--bad-bg:#fbe5e5;--warn:#7a4100;--warn-bg:#fdf0dc;--focus:#c25400;
--bar1:#0b4a9e;--bar2:#c25400;color-scheme:light}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",sans-serif;
font-size:1rem;line-height:1.5;color:var(--fg);background:var(--bg)}
a{color:var(--link);text-underline-offset:.15em}
a:hover{text-decoration-thickness:2px}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--bg);padding:.5rem}
.skip:focus{left:.5rem}
.site{background:#0d2b52;color:#fff}
.site .bar{max-width:64rem;margin:0 auto;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;align-items:baseline}
.site a{color:#fff}
.brand{font-weight:700;font-size:1.15rem;text-decoration:none;margin-right:auto}
.site nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.site nav a[aria-current="page"]{text-decoration-thickness:3px}
main{max-width:64rem;margin:0 auto;padding:1rem 1rem 2rem}
footer{border-top:1px solid var(--line);color:var(--muted);font-size:.9rem}
footer .bar{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.25rem;margin:2rem 0 .6rem}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem;overflow-wrap:anywhere}
p,ul,ol,dl{margin:.5rem 0}
code,pre,kbd,.fpr,textarea{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace}
code{font-size:.95em;overflow-wrap:anywhere}
pre{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:.6rem .75rem;overflow-x:auto;
font-size:.85rem;line-height:1.45;margin:.4rem 0}
.fpr{font-weight:600;word-spacing:.05em;overflow-wrap:anywhere}
.fpr-big{font-size:1.2rem;letter-spacing:.02em}
.muted{color:var(--muted)}
.lead{font-size:1.05rem}
.panel{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:1rem 0;background:var(--bg)}
.grid{display:grid;gap:0 2rem;grid-template-columns:minmax(0,1fr)}
@media (min-width:52rem){.grid.two{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
.hint{color:var(--muted);font-size:.9rem;margin:.25rem 0}
input[type=text],input[type=password],textarea{width:100%;font-size:1rem;padding:.5rem .6rem;
border:2px solid #555;border-radius:4px;color:var(--fg);background:#fff}
textarea{font-size:.85rem;min-height:9rem;resize:vertical}
input[type=file]{font-size:1rem;max-width:100%}
.search-row{display:flex;gap:.5rem;flex-wrap:wrap}
.search-row input{flex:1 1 14rem;width:auto}
button,.button{display:inline-block;font:inherit;font-weight:600;padding:.45rem 1rem;border-radius:4px;border:2px solid var(--accent);
background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;line-height:1.4}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
button.small{padding:.1rem .6rem;font-size:.85rem}
fieldset{border:1px solid var(--line);border-radius:4px;margin:.5rem 0;padding:.25rem .75rem .5rem}
fieldset label{display:inline;font-weight:400;margin:0 1rem 0 0}
details summary{cursor:pointer;font-weight:600}
details{margin:.5rem 0}
.status{display:inline-block;font-size:.8rem;font-weight:700;padding:0 .45rem;border-radius:3px;border:1px solid;text-transform:uppercase;letter-spacing:.03em}
.status.valid{color:var(--ok);background:var(--ok-bg)}
.status.revoked{color:var(--bad);background:var(--bad-bg)}
.status.expired{color:var(--warn);background:var(--warn-bg)}
.key{border:1px solid var(--line);border-radius:6px;padding:.6rem 1rem;margin:.9rem 0}
.key p{margin:.25rem 0}
.key .uids{list-style:none;padding:0;margin:.35rem 0 0}
.key .uids li{overflow-wrap:anywhere;margin:.15rem 0}
.sigs{font-size:.9rem;color:var(--muted);list-style:none;padding-left:.75rem;margin:.2rem 0 .4rem;border-left:3px solid var(--soft)}
.sigs li{overflow-wrap:anywhere}
dl.facts{display:grid;grid-template-columns:minmax(7rem,max-content) 1fr;gap:.3rem 1rem;margin:.75rem 0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
@media (max-width:20rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4rem}}
.fingerprint-box{border:2px solid var(--accent);border-radius:6px;padding:.6rem 1rem;margin:.75rem 0;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
.fingerprint-box .label{font-weight:600;width:100%;margin:0}
.component{border-top:1px solid var(--line);padding:.4rem 0 .6rem}
.component h3{margin:.4rem 0 .2rem}
.component .meta{margin:.1rem 0;color:var(--muted)}
.caps{font-weight:600}
.outcome{list-style:none;padding:0}
.outcome li{border:1px solid var(--line);border-left-width:6px;border-radius:4px;padding:.5rem .75rem;margin:.5rem 0;overflow-wrap:anywhere}
.outcome .inserted,.outcome .updated{border-left-color:var(--ok)}
.outcome .unchanged{border-left-color:var(--line)}
.outcome .rejected{border-left-color:var(--bad)}
.outcome .dropped{border-left-color:var(--warn)}
.notice{border-left:6px solid var(--bad);background:var(--bad-bg);padding:.6rem 1rem;border-radius:4px}
.pager{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin:1.25rem 0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.95rem}
th,td{border:1px solid var(--line);padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.table-wrap{overflow-x:auto}
/* A narrow screen scrolls the chart sideways, starting at its right end: the latest days. */
.chart-wrap{overflow-x:auto;direction:rtl}
.chart-wrap .chart{direction:ltr}
.chart{width:100%;height:auto;min-width:34rem;max-width:48rem;display:block;margin:.5rem 0}
.chart text{font-size:14px;fill:var(--fg);font-family:inherit}
.chart .axis{stroke:var(--fg);stroke-width:1}
.chart .grid-line{stroke:#b8b8b8;stroke-width:1}
.chart .inserted{fill:var(--bar1)}
.chart .updated{fill:var(--bar2)}
.legend{display:flex;gap:1.25rem;flex-wrap:wrap;font-size:.9rem;margin:.25rem 0;padding:0;list-style:none}
.swatch{display:inline-block;width:.9rem;height:.9rem;vertical-align:-.1rem;margin-right:.35rem;border:1px solid var(--fg)}
.swatch.inserted{background:var(--bar1)}
.swatch.updated{background:var(--bar2)}
.copy-status{min-height:1.5em}
.stat-cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem;margin:.75rem 0}
.stat-cards div{border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem}
.stat-cards strong{display:block;font-size:1.4rem}
`.trim();
