
(function () {
  var tip = document.getElementById('tooltip');
  function show(row, x, y) {
    if (tip.dataset.row !== row.id) {
      tip.replaceChildren();
      row.querySelector('.tip').childNodes.forEach(function (n) {
        tip.appendChild(n.cloneNode(true));
      });
      tip.dataset.row = row.id;
    }
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.min(x + 14, window.innerWidth - w - 4);
    var top = y + 14 + h > window.innerHeight ? y - h - 8 : y + 14;
    tip.style.left = Math.max(left, 4) + 'px';
    tip.style.top = Math.max(top, 4) + 'px';
  }
  document.addEventListener('mousemove', function (e) {
    var row = e.target.closest && e.target.closest('.stage, .segment');
    if (row) { show(row, e.clientX, e.clientY); } else { tip.hidden = true; }
  });
  document.addEventListener('focusin', function (e) {
    var row = e.target.closest && e.target.closest('.stage, .segment');
    if (!row) { tip.hidden = true; return; }
    var r = row.getBoundingClientRect();
    show(row, r.left + r.width / 2, r.bottom);
  });
})();
