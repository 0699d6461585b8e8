// Wide tables (analysis.book: <div class="table-scroll">) scroll sideways inside the text column. When a
// table is wider than the column, say so: a line above it ("Scroll sideways to see every column") and a
// fade at the edge that has more columns; the box also takes keyboard focus, so arrow keys scroll it.
(function () {
  "use strict";
  var HINT = "table-scroll-hint";

  function update(box) {
    var more = box.scrollWidth - box.clientWidth > 1;
    var atStart = box.scrollLeft <= 1;
    var atEnd = box.scrollLeft + box.clientWidth >= box.scrollWidth - 1;
    box.setAttribute("data-overflow", !more ? "none" : atStart ? "right" : atEnd ? "left" : "both");
    var hint = box.previousElementSibling;
    if (hint && hint.classList.contains(HINT)) hint.hidden = !more;
    if (more) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Table; scroll sideways to see every column");
    } else {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }

  function setup(box) {
    var before = box.previousElementSibling;
    if (!before || !before.classList.contains(HINT)) {
      var hint = document.createElement("p");
      hint.className = HINT;
      hint.hidden = true;
      hint.textContent = "Scroll sideways to see every column \u2192";
      box.parentNode.insertBefore(hint, box);
    }
    box.addEventListener("scroll", function () { update(box); }, { passive: true });
    update(box);
  }

  function updateAll() {
    document.querySelectorAll(".table-scroll").forEach(update);
  }

  function start() {
    document.querySelectorAll(".table-scroll").forEach(setup);
    window.addEventListener("resize", updateAll);
    window.addEventListener("load", updateAll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
