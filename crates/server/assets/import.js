// The seller center's CSV import: uploads the file with a progress bar, then shows the server's
// progress fragment, which polls itself (htmx) until the per-row report is in.
(function () {
  var form = document.getElementById('import');
  if (!form) return;
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var file = form.querySelector('input[type=file]').files[0];
    if (!file) return;
    var bar = document.getElementById('upload');
    var box = document.getElementById('import-status');
    var button = form.querySelector('button');
    button.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/seller/import');
    xhr.setRequestHeader('Content-Type', 'text/csv');
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('X-Form-Key', form.dataset.key);
    xhr.upload.onprogress = function (ev) {
      if (ev.lengthComputable) bar.value = Math.round((100 * ev.loaded) / ev.total);
    };
    xhr.onload = function () {
      bar.value = 100;
      box.innerHTML = xhr.responseText;
      if (window.htmx) window.htmx.process(box);
    };
    xhr.onerror = function () {
      button.disabled = false;
      box.textContent = form.dataset.failed || 'The upload failed; please try again.';
    };
    xhr.send(file);
  });
})();
