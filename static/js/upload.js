// Upload with a progress bar: post the form with XMLHttpRequest, show bytes sent, then follow
// the server's answer (the new dataset's page, or the validation errors).
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = document.getElementById("upload-bar"), pct = document.getElementById("upload-pct");
  var box = document.getElementById("upload-progress"), errors = document.getElementById("upload-errors");
  var button = document.getElementById("upload-submit");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    box.hidden = false; errors.hidden = true; errors.innerHTML = ""; button.disabled = true;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var p = Math.round(100 * e.loaded / e.total);
        bar.style.width = p + "%"; pct.textContent = p < 100 ? p + "% uploaded" : "validating…";
      }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {errors: ["Unexpected answer from the server (" + xhr.status + ")."]}; }
      if (xhr.status === 201 && body.url) { window.location = body.url; return; }
      button.disabled = false; box.hidden = true;
      (body.errors || ["Upload failed (" + xhr.status + ")."]).forEach(function (msg) {
        var p = document.createElement("p"); p.className = "error"; p.textContent = msg; errors.appendChild(p);
      });
      errors.hidden = false;
    };
    xhr.onerror = function () {
      button.disabled = false; box.hidden = true;
      errors.innerHTML = '<p class="error">The upload was interrupted. Check your connection and try again.</p>';
      errors.hidden = false;
    };
    xhr.send(new FormData(form));
  });
})();
