//! The console's stylesheet and scripts, served from its own origin (`/console/assets/*`) so the
//! pages carry a `Content-Security-Policy` of `default-src 'self'` with no inline script or style
//! allowed. They are public (the sign-in page uses the stylesheet) and hold nothing secret.
//!
//! Failure: an unknown asset is a 404.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Where the assets are served.
pub const ROUTE_ASSETS: &str = "/console/assets/{file}";
/// The stylesheet's path.
pub const STYLESHEET: &str = "/console/assets/console.css";

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

pub(super) const STYLE: &str = r#"
:root{--fg:#1b1b1b;--muted:#4a4a4a;--line:#c9c9c9;--accent:#0b4fb3;--good:#0f6b2c;--bad:#a4161a;--warn:#7a4a00;--bg:#fff;--soft:#f3f5f8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#10294f;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem}
header .brand{font-weight:700;margin-right:.5rem}
header nav{display:flex;flex-wrap:wrap;gap:.25rem}
header nav a{color:#fff;text-decoration:none;padding:.5rem .6rem;border-radius:6px}
header nav a[aria-current=page]{background:#fff;color:#10294f;font-weight:600}
header .pairing-switch{display:flex;gap:.35rem;align-items:center}
header .pairing-switch label{color:#fff}
header form{margin-left:auto}
header form button{background:transparent;border-color:#fff}
main{max-width:64rem;margin:0 auto;padding:1rem}
main.narrow{max-width:28rem;padding-top:3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:0 0 .5rem}
a{color:var(--accent)}
:focus-visible{outline:3px solid #f0a400;outline-offset:2px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:10px;padding:1rem;background:var(--soft)}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .75rem;margin:0}
dt{color:var(--muted)} dd{margin:0;overflow-wrap:anywhere}
.ok{color:var(--good);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft)}
td.id{font-family:ui-monospace,monospace;font-size:.85rem;overflow-wrap:anywhere}
button,.button{display:inline-block;font:inherit;min-height:44px;padding:.5rem 1rem;border-radius:8px;border:2px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input,select,textarea{font:inherit;padding:.5rem;border:2px solid #767676;border-radius:6px;min-height:44px;width:100%;max-width:24rem}
textarea{max-width:40rem;font-family:ui-monospace,monospace;font-size:.85rem}
input[type=checkbox]{width:auto;min-height:auto;margin:0 .4rem 0 0}
form.inline{display:inline}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
progress{width:100%;height:1.6rem}
figure{margin:0}
.chart{display:block;width:100%;height:auto;overflow:visible}
.chart text{font-size:10px;fill:var(--fg)}.chart text.title{font-size:12px;font-weight:600}
.chart rect.s{fill:#1f6fd6}.chart rect.f{fill:#c62828}.chart line.axis{stroke:#4a4a4a}.chart line.grid{stroke:#dcdcdc}
figcaption{margin-top:.25rem}
details{margin-top:.25rem}summary{cursor:pointer;color:var(--accent)}
.skip{position:absolute;left:-9999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem;z-index:2}
.muted{color:var(--muted)}
.mt1{margin-top:1rem}.mb1{margin-bottom:1rem}.mt15{margin-top:1.5rem}
"#;

/// The live part of a page (Activity's rows, Failed's line and list): the element marked
/// `data-live` names its stream (the page's pairing added); on each `changed` the element's content
/// is fetched again from the page's own URL with `fragment=1`, rendered by the same code as the page.
const LIVE_JS: &str = r#"
(function(){
  if(!window.EventSource) return;
  var box=document.querySelector('[data-live]');
  if(!box) return;
  var m=location.search.match(/[?&](pairing=[^&]*)/);
  var es=new EventSource(box.getAttribute('data-live')+(m?'?'+m[1]:''));
  es.addEventListener('changed',function(){
    var u=new URL(location.href); u.searchParams.set('fragment','1');
    fetch(u,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(t){if(t!==null){box.innerHTML=t;}});
  });
})();
"#;

/// `GET /console/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.css" => (STYLE, CSS),
        "live.js" => (LIVE_JS, JS),
        "backfill.js" => (super::backfill::BACKFILL_JS, JS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
