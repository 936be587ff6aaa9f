// A layout probe for tests/integration/test_docs_site.py, harmless to readers. `window.layoutProbe()`
// measures the page as laid out now and returns (and records on <html> as data-probe-*,
// which `chromium --headless --dump-dom` shows; it also runs once on load):
//   scrollWidth, innerWidth: how wide the document is against the window;
//   overflow: the outermost elements that reach past the window's right edge;
//   images: [src, loaded] for every image;
//   docTables: mkdocstrings' parameter tables that do not fit their box;
//   scrollingCode: [length, start] of the longest line of each code block that scrolls.
(function () {
  function describe(element) {
    var name = element.tagName.toLowerCase();
    if (element.id) name += "#" + element.id;
    if (typeof element.className === "string" && element.className.trim()) {
      name += "." + element.className.trim().split(/\s+/).join(".");
    }
    return name;
  }

  function pastTheEdge(width) {
    var found = [];
    var elements = document.body.getElementsByTagName("*");
    for (var i = 0; i < elements.length && found.length < 10; i++) {
      var element = elements[i];
      var box = element.getBoundingClientRect();
      if (box.width === 0 || box.right <= width + 0.5) continue;
      // the outermost one only: not one inside an element already found, nor one inside a
      // box that scrolls or clips it (a wide table in its scrolling wrapper)
      var contained = false;
      for (var parent = element.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
        if (found.indexOf(parent) >= 0 || window.getComputedStyle(parent).overflowX !== "visible") {
          contained = true;
          break;
        }
      }
      if (!contained) found.push(element);
    }
    return found.map(describe);
  }

  function docTables() {
    var wide = [];
    document.querySelectorAll("table").forEach(function (table) {
      if (!table.querySelector("tr.doc-section-item")) return;
      var box = table.closest(".md-typeset__scrollwrap") || table;
      if (box.scrollWidth > box.clientWidth + 1) {
        var head = Array.prototype.map.call(table.querySelectorAll("th"), function (th) {
          return th.textContent.trim();
        });
        wide.push(head.join(" | ") + " (" + box.scrollWidth + " > " + box.clientWidth + " px)");
      }
    });
    return wide;
  }

  function scrollingCode() {
    var scrolling = [];
    document.querySelectorAll("pre > code").forEach(function (code) {
      if (code.scrollWidth <= code.clientWidth + 1) return;
      var longest = code.textContent.split("\n").reduce(function (a, b) {
        return b.length > a.length ? b : a;
      }, "");
      scrolling.push([longest.replace(/\s+$/, "").length, longest.trim().slice(0, 80)]);
    });
    return scrolling;
  }

  function layoutProbe() {
    var root = document.documentElement;
    var record = {
      scrollWidth: root.scrollWidth,
      innerWidth: window.innerWidth,
      overflow: pastTheEdge(window.innerWidth),
      images: Array.prototype.map.call(document.images, function (image) {
        return [image.getAttribute("src"), image.complete && image.naturalWidth > 0];
      }),
      docTables: docTables(),
      scrollingCode: scrollingCode(),
    };
    Object.keys(record).forEach(function (key) {
      root.setAttribute("data-probe-" + key.replace(/[A-Z]/g, "-$&").toLowerCase(), JSON.stringify(record[key]));
    });
    return record;
  }

  window.layoutProbe = layoutProbe;
  if (document.readyState === "complete") layoutProbe();
  else window.addEventListener("load", layoutProbe);
})();
