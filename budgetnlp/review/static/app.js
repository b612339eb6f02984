/* budgetnlp review: keyboard shortcuts and the offline API docs. No external assets. */
(function () {
  "use strict";
  var page = document.body.getAttribute("data-page");
  var help = document.getElementById("help");

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable) return true;
    if (tag === "INPUT") return ["checkbox", "radio", "button", "submit", "reset", "hidden"].indexOf(el.type) < 0;
    return false;
  }
  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) { var b = help.querySelector("[data-close]"); if (b) b.focus(); }
  }
  document.querySelectorAll("[data-help]").forEach(function (b) { b.addEventListener("click", function () { toggleHelp(); }); });
  if (help) help.addEventListener("click", function (e) { if (e.target === help || e.target.hasAttribute("data-close")) toggleHelp(false); });

  // ---- row page: flags, save, navigation
  var form = document.getElementById("decision-form");
  function markChanged() {
    document.querySelectorAll(".flag-choice").forEach(function (label) {
      var box = label.querySelector("input[type=checkbox]");
      label.classList.toggle("is-changed", String(box.checked ? 1 : 0) !== label.getAttribute("data-model"));
      label.classList.toggle("is-on", box.checked);
    });
  }
  if (form) {
    form.addEventListener("change", markChanged);
    markChanged();
  }
  // Enter saves and moves on (accept-and-next); Shift+Enter saves and stays
  function save(stay) {
    if (!form) return;
    var button = document.getElementById(stay ? "save" : "save-next");
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }
  function go(id) {
    var link = document.getElementById(id);
    if (link) window.location.href = link.href;
  }

  function undo() {
    var undoForm = document.getElementById("undo-form");
    if (undoForm) undoForm.submit();
  }

  // ---- project page: a row whose choices change is ticked for saving
  document.querySelectorAll("#project-form tr.project-row").forEach(function (tr) {
    var include = tr.querySelector('input[name$="_include"]');
    tr.addEventListener("change", function (e) { if (include && e.target !== include) include.checked = true; });
    tr.addEventListener("input", function (e) { if (include && e.target.tagName === "INPUT" && e.target.type !== "checkbox") include.checked = true; });
  });

  // ---- queue page: j/k selection
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue-table tbody tr"));
  var selected = -1;
  function select(i) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("selected", j === selected); });
    rows[selected].scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (r, i) {
    r.addEventListener("click", function (e) { if (e.target.tagName !== "A") select(i); });
    r.addEventListener("dblclick", function () { window.location.href = r.getAttribute("data-href"); });
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      if (help && !help.hidden) { toggleHelp(false); e.preventDefault(); }
      else if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (page === "row" && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(e.shiftKey); return; }
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (typing(e.target)) return;
    if (e.key === "?") { e.preventDefault(); toggleHelp(); return; }
    if (help && !help.hidden) return;
    if (e.key === "u" && (page === "row" || page === "queue")) { e.preventDefault(); undo(); return; }
    var tag = e.target && e.target.tagName;
    if (page === "row") {
      if (e.key === "j") { e.preventDefault(); go("nav-next"); }
      else if (e.key === "k") { e.preventDefault(); go("nav-prev"); }
      else if (e.key === "n") { e.preventDefault(); var note = document.getElementById("note"); if (note) note.focus(); }
      else if (/^[1-4]$/.test(e.key)) {
        var box = document.querySelector('input[data-flag-index="' + e.key + '"]');
        if (box) { e.preventDefault(); box.checked = !box.checked; markChanged(); }
      } else if (e.key === "Enter" && tag !== "A" && tag !== "BUTTON") { e.preventDefault(); save(e.shiftKey); }
    } else if (page === "queue") {
      if (e.key === "j") { e.preventDefault(); select(selected + 1); }
      else if (e.key === "k") { e.preventDefault(); select(selected - 1); }
      else if ((e.key === "Enter" || e.key === "o") && selected >= 0 && tag !== "A" && tag !== "BUTTON") {
        e.preventDefault(); window.location.href = rows[selected].getAttribute("data-href");
      }
    }
  });

  // ---- API docs rendered from /openapi.json (offline; text only, never innerHTML)
  var docs = document.getElementById("api-docs");
  if (docs) {
    fetch(docs.getAttribute("data-openapi"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (spec) { renderDocs(docs, spec); })
      .catch(function (err) { docs.textContent = "无法加载 /openapi.json：" + err.message; });
  }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  function typeOf(schema, spec) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.anyOf) return schema.anyOf.map(function (s) { return typeOf(s, spec); }).join(" | ");
    if (schema.enum) return schema.enum.map(String).join(" | ");
    if (schema.const !== undefined) return String(schema.const);
    if (schema.type === "array") return typeOf(schema.items, spec) + "[]";
    return schema.type || "";
  }
  function renderDocs(root, spec) {
    root.textContent = "";
    Object.keys(spec.paths || {}).forEach(function (path) {
      var ops = spec.paths[path];
      Object.keys(ops).forEach(function (method) {
        var op = ops[method];
        var box = el("section", null, "card endpoint");
        var h = el("h2");
        h.appendChild(el("span", method.toUpperCase(), "method method-" + method));
        h.appendChild(el("code", " " + path));
        box.appendChild(h);
        if (op.summary) box.appendChild(el("p", op.summary));
        if (op.parameters && op.parameters.length) {
          var t = el("table");
          var head = el("tr"); ["参数", "位置", "类型", "必填"].forEach(function (x) { head.appendChild(el("th", x)); }); t.appendChild(head);
          op.parameters.forEach(function (p) {
            var tr = el("tr");
            tr.appendChild(el("td", p.name)); tr.appendChild(el("td", p.in));
            tr.appendChild(el("td", typeOf(p.schema, spec) + (p.description ? " — " + p.description : "")));
            tr.appendChild(el("td", p.required ? "是" : ""));
            t.appendChild(tr);
          });
          box.appendChild(t);
        }
        var body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
        if (body) {
          var name = typeOf(body.schema, spec);
          box.appendChild(el("p", "请求体（JSON）：" + name));
          var schema = (spec.components && spec.components.schemas || {})[name];
          if (schema && schema.properties) {
            var bt = el("table");
            Object.keys(schema.properties).forEach(function (k) {
              var tr = el("tr");
              tr.appendChild(el("td", k));
              tr.appendChild(el("td", typeOf(schema.properties[k], spec)));
              tr.appendChild(el("td", (schema.required || []).indexOf(k) >= 0 ? "必填" : ""));
              bt.appendChild(tr);
            });
            box.appendChild(bt);
          }
        }
        box.appendChild(el("p", "响应：" + Object.keys(op.responses || {}).join(", "), "muted"));
        root.appendChild(box);
      });
    });
  }
})();
