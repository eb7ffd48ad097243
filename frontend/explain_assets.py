"""The page template of ``Explanation.to_html``: its HTML skeleton, style and click script."""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<script>window.onerror = function (msg, src, line, col) {
  var box = document.getElementById("adjit-errors");
  var text = msg + " (line " + line + ":" + col + ")";
  if (box) { box.hidden = false; box.textContent += text + "\\n"; }
  else { (window.adjitEarlyErrors = window.adjitEarlyErrors || []).push(text); }
};</script>
<style>%STYLE%</style></head>
<body data-first="%FIRST%">
<header><h1>%TITLE%</h1><div class="chips">%HEADER%</div></header>
%BANNER%
<pre id="adjit-errors" class="errors" hidden></pre>
<div class="legend">%LEGEND%</div>
<nav class="tabs">%TABS%</nav>
<main><section class="panes">%PANES%</section>
<aside id="panel"><p class="muted">Click a node for its IR line, shape, dtype and source line;
click a kernel's box for its formula, LLVM IR and assembly.</p></aside></main>
<div id="adjit-status" data-state="loading" hidden></div>
<div id="adjit-selftest" hidden></div>
<script type="application/json" id="adjit-data">%DATA%</script>
<script>%SCRIPT%</script>
</body></html>
"""

STYLE = """
body{
  font:13px/1.4 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
  color:#212529;background:#fff;
}
header{padding:10px 16px 4px}
h1{font-size:17px;margin:0 0 6px}
.chips{display:flex;flex-wrap:wrap;gap:6px}
.chip{background:#f1f3f5;border-radius:10px;padding:2px 9px}
.banner{
  margin:8px 16px;padding:8px 12px;background:#fff3bf;border:1px solid #f08c00;
  border-radius:6px;
}
.errors{margin:8px 16px;padding:8px;background:#ffe3e3;color:#c92a2a}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;padding:4px 16px;color:#495057}
.key i{
  display:inline-block;width:14px;height:10px;border:1.5px solid;margin-right:5px;
  border-radius:3px;vertical-align:-1px;
}
.tabs{display:flex;gap:2px;padding:6px 16px 0;border-bottom:1px solid #dee2e6}
.tab{
  border:1px solid #dee2e6;border-bottom:none;background:#f8f9fa;padding:5px 12px;
  border-radius:6px 6px 0 0;cursor:pointer;font:inherit;
}
.tab.on{background:#fff;font-weight:600;position:relative;top:1px}
main{display:flex;align-items:flex-start}
.panes{flex:1;min-width:0;padding:6px 16px}
#panel{
  width:40%;max-width:640px;min-width:300px;position:sticky;top:0;max-height:100vh;
  overflow:auto;padding:8px 16px;border-left:1px solid #dee2e6;box-sizing:border-box;
}
.bar{display:flex;gap:4px;align-items:center;margin-bottom:4px}
.caption{color:#495057;margin-left:8px}
.zoom{font:inherit;padding:1px 8px;cursor:pointer}
.graph{overflow:auto;max-height:calc(100vh - 150px);border:1px solid #e9ecef;border-radius:6px}
.graph svg{display:block}
.graph g.node,.graph g.cluster{cursor:pointer}
.graph g.sel path,.graph g.sel polygon,.graph g.sel ellipse{stroke:#d6336c;stroke-width:3px}
pre{
  background:#f8f9fa;padding:6px 8px;border-radius:4px;overflow:auto;margin:4px 0;
  font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
}
pre.code{max-height:360px}
pre.formula{font-size:13px;background:#fff9db}
.head{display:flex;gap:8px;align-items:center;margin:4px 0}
.title{font-weight:600;font-family:ui-monospace,Menlo,monospace}
.badge{border:1.5px solid;border-radius:4px;padding:0 6px;font-size:11px}
.note{color:#c92a2a;margin:2px 0}
.aval{color:#495057;margin:2px 0}
.loc{color:#1864ab;font-family:ui-monospace,Menlo,monospace}
.lines{
  background:#f8f9fa;padding:6px 8px;border-radius:4px;overflow:auto;margin:4px 0;
  white-space:pre;font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
}
.lines .hl{background:#ffec99;min-width:max-content}
.muted{color:#868e96}
details.sec{margin:6px 0}
details.sec>summary{cursor:pointer;font-weight:600}
a.link{display:block;margin:6px 0;color:#1864ab;cursor:pointer}
table{border-collapse:collapse;margin:4px 0 10px}
td,th{border:1px solid #dee2e6;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
.summary h3{margin:12px 0 4px;font-size:14px}
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("adjit-data").textContent);
  var details = data.details, sources = data.sources, panel = document.getElementById("panel");
  var selected = null, status = document.getElementById("adjit-status");
  (window.adjitEarlyErrors || []).forEach(function (t) { window.onerror(t, "", 0, 0); });
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function section(title, body, open) {
    var d = el("details", "sec");
    d.open = !!open;
    d.appendChild(el("summary", null, title));
    d.appendChild(body);
    return d;
  }
  function source(loc) {
    var s = sources[loc], box = el("div", "src");
    box.appendChild(el("div", "loc", loc));
    if (!s) { box.appendChild(el("div", "muted", "(source text not available)")); return box; }
    var lines = el("div", "lines");
    s.lines.forEach(function (line, k) {
      var n = s.first + k;
      lines.appendChild(el("div", n === s.line ? "hl" : null, String(n).padStart(5) + "  " + line));
    });
    box.appendChild(lines);
    return box;
  }
  function show(id) {
    var d = details[id];
    if (!d) return false;
    if (d.ref && details[d.ref]) {  // a long edge's reference (Note [long edges]): go there
      show(d.ref);
      var box = selected && selected.closest(".graph");
      if (box) {  // (scroll the drawing only, not the page)
        var r = selected.getBoundingClientRect(), frame = box.getBoundingClientRect();
        box.scrollTop += r.top - frame.top - box.clientHeight / 2;
        box.scrollLeft += r.left - frame.left - box.clientWidth / 2;
      }
      return true;
    }
    if (selected) selected.classList.remove("sel");
    selected = document.getElementById(id);
    if (selected) selected.classList.add("sel");
    panel.textContent = "";
    var head = el("div", "head");
    head.appendChild(el("span", "badge k-" + d.kind, d.kind));
    head.appendChild(el("span", "title", d.title));
    panel.appendChild(head);
    if (d.note) panel.appendChild(el("div", "note", d.note));
    var shape = d.dtype && "shape [" + d.shape.join(", ") + "], dtype " + d.dtype;
    if (d.dtype) panel.appendChild(el("div", "aval", shape + " (" + d.aval + ")"));
    else if (d.aval) panel.appendChild(el("div", "aval", d.aval));
    if (d.no_grad) panel.appendChild(el("div", "aval", "recorded under no_grad"));
    if (d.kernel && details[d.kernel]) {
      var into = "fused into kernel " + details[d.kernel].title;
      var a = el("a", "link", into + ": formula, LLVM IR, assembly");
      a.href = "#";
      a.addEventListener("click", function (ev) { ev.preventDefault(); show(d.kernel); });
      panel.appendChild(a);
    }
    if (d.formula) panel.appendChild(section("formula", el("pre", "formula", d.formula), true));
    if (d.ir) panel.appendChild(section("IR", el("pre", null, d.ir), true));
    if (d.loc) panel.appendChild(section("source", source(d.loc), true));
    if (d.locs && d.locs.length) {
      var box = el("div");
      d.locs.forEach(function (loc) { box.appendChild(source(loc)); });
      panel.appendChild(section("source lines (" + d.locs.length + ")", box, true));
    }
    if (d.llvm) panel.appendChild(section("LLVM IR", el("pre", "code", d.llvm), false));
    if (d.asm) panel.appendChild(section("assembly", el("pre", "code", d.asm), false));
    panel.setAttribute("data-shown", id);
    return true;
  }
  function zoom(pane, z) {
    var svg = pane.querySelector(".graph svg"), box = pane.querySelector(".graph");
    if (!svg) return;
    if (!svg.dataset.w) {  // (dot gives the size in points)
      svg.dataset.w = parseFloat(svg.getAttribute("width"));
      svg.dataset.h = parseFloat(svg.getAttribute("height"));
      svg.dataset.s = 1;
    }
    var w = +svg.dataset.w, h = +svg.dataset.h, s = +svg.dataset.s;
    var fit = Math.min(1, (box.clientWidth - 4) / (w * 4 / 3)) || 1;
    if (z === "fit") s = fit;
    else if (z === "auto") s = Math.max(0.55, fit);  // (a big graph stays readable: scroll)
    else if (z === "1") s = 1;
    else s = s * parseFloat(z);
    svg.dataset.s = s;
    svg.setAttribute("width", (w * s) + "pt");
    svg.setAttribute("height", (h * s) + "pt");
  }
  function activate(key) {
    document.querySelectorAll(".tab").forEach(function (t) {
      t.classList.toggle("on", t.dataset.view === key);
    });
    panel.hidden = !document.querySelector('.pane[data-view="' + key + '"] .bar');  // (tables)
    document.querySelectorAll(".pane").forEach(function (p) {
      p.hidden = p.dataset.view !== key;
      if (!p.hidden && !p.dataset.sized) { p.dataset.sized = "1"; zoom(p, "auto"); }
    });
  }
  document.querySelectorAll(".tab").forEach(function (t) {
    t.addEventListener("click", function () { activate(t.dataset.view); });
  });
  document.querySelectorAll(".zoom").forEach(function (b) {
    b.addEventListener("click", function () { zoom(b.closest(".pane"), b.dataset.z); });
  });
  document.querySelectorAll(".graph").forEach(function (box) {
    box.addEventListener("click", function (ev) {
      var g = ev.target.closest("g.node, g.cluster");
      if (g) show(g.id);
    });
  });
  var args = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    if (kv) { var p = kv.split("="); args[p[0]] = decodeURIComponent(p[1] || "1"); }
  });
  activate(args.view || document.body.dataset.first);
  if (args.select) show(args.select);
  if (args.selftest) {  // click a node, a kernel box and a reference in each view, as a user
    var ok = 0, failed = [];
    document.querySelectorAll(".pane").forEach(function (p) {
      [["g.node", false], ["g.cluster", false], ["g.node", true]].forEach(function (test) {
        var all = p.querySelectorAll(test[0]);
        var g = Array.prototype.find.call(all, function (x) {
          return details[x.id] && !details[x.id].ref === !test[1];
        });
        if (!g) return;
        var shape = g.querySelector("path, polygon, ellipse, text") || g;
        shape.dispatchEvent(new MouseEvent("click", {bubbles: true}));
        var want = details[g.id].ref || g.id;  // (a reference shows the value it stands for)
        var shown = panel.getAttribute("data-shown") === want;
        if (shown && panel.textContent.indexOf(details[want].title) >= 0) ok++;
        else failed.push(g.id);
      });
    });
    var out = document.getElementById("adjit-selftest");
    out.setAttribute("data-ok", ok);
    out.setAttribute("data-failed", failed.join(" "));
  }
  status.setAttribute("data-state", "ready");
})();
"""
