// The one script, served at /static/ by the server itself. Pages work without it; it only adds copy buttons
// (rendered hidden, shown here) for fingerprints and commands.
export const SCRIPT =
  `
(function () {
  'use strict';
  var status = document.getElementById('copy-status');
  function say(text) { if (status) status.textContent = text; }
  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'skip';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  function copy(button) {
    var from = button.getAttribute('data-copy-from');
    var source = from ? document.getElementById(from) : null;
    var text = button.getAttribute('data-copy') || (source ? source.textContent : '') || '';
    var label = button.getAttribute('data-label') || 'Copy';
    var done = function (ok) {
      button.textContent = ok ? 'Copied' : 'Copy failed';
      say(ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.');
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
    } else {
      done(fallbackCopy(text));
    }
  }
  var buttons = document.querySelectorAll('button[data-copy], button[data-copy-from]');
  for (var i = 0; i < buttons.length; i++) {
    var b = buttons[i];
    b.hidden = false;
    b.addEventListener('click', function (event) { copy(event.currentTarget); });
  }
})();
`.trim() + '\n';
