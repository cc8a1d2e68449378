// Upload with a progress bar. Files up to one chunk go in one request (the form, posted with
// XMLHttpRequest); bigger files go through the chunked upload API (/api/uploads/): the file is sent
// in chunks, a failed chunk is retried after asking the server how many bytes it has (resume), and
// the completed upload becomes a dataset through the same checks. Then we follow the server's
// answer: the new dataset's page (where a big file's profiling progress shows), or the errors.
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = document.getElementById("upload-bar"), pct = document.getElementById("upload-pct");
  var box = document.getElementById("upload-progress"), errors = document.getElementById("upload-errors");
  var button = document.getElementById("upload-submit");
  var chunkSize = parseInt(form.dataset.chunkBytes || "8388608", 10);
  var uploadsUrl = form.dataset.uploadsUrl || "/api/uploads/";
  var csrf = (form.querySelector("[name=csrfmiddlewaretoken]") || {}).value;
  var MAX_RETRIES = 5;

  function showProgress(done, total) {
    var p = Math.floor(100 * done / total);
    bar.style.width = p + "%"; pct.textContent = p < 100 ? p + "% uploaded" : "validating…";
  }

  function fail(messages) {
    button.disabled = false; box.hidden = true; errors.innerHTML = "";
    messages.forEach(function (msg) {
      var p = document.createElement("p"); p.className = "error"; p.textContent = msg; errors.appendChild(p);
    });
    errors.hidden = false;
  }

  function request(method, url, body, headers, onDone, onProgress) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("Accept", "application/json");
    if (csrf) { xhr.setRequestHeader("X-CSRFToken", csrf); }
    Object.keys(headers || {}).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
    if (onProgress) { xhr.upload.onprogress = onProgress; }
    xhr.onload = function () {
      var parsed = {};
      try { parsed = JSON.parse(xhr.responseText || "{}"); } catch (err) { parsed = {}; }
      onDone(xhr.status, parsed);
    };
    xhr.onerror = function () { onDone(0, {}); };
    xhr.send(body);
  }

  function finished(status, body) {
    if ((status === 201 || status === 202) && (body.page_url || body.url)) { window.location = body.page_url || body.url; return; }
    fail(body.errors || ["Upload failed (" + (status || "connection lost") + ")."]);
  }

  function singleRequest() {
    request("POST", form.action, new FormData(form), {}, finished, function (e) {
      if (e.lengthComputable) { showProgress(e.loaded, e.total); }
    });
  }

  function chunked(file) {
    request("POST", uploadsUrl, JSON.stringify({filename: file.name, size: file.size}),
            {"Content-Type": "application/json"}, function (status, session) {
      if (status !== 201) { fail(session.errors || ["Could not start the upload (" + status + ")."]); return; }
      sendFrom(file, session.id, 0, 0);
    });
  }

  function sendFrom(file, id, offset, retries) {
    if (offset >= file.size) { complete(id); return; }
    var end = Math.min(offset + chunkSize, file.size);
    request("PUT", uploadsUrl + id + "/", file.slice(offset, end),
            {"Content-Type": "application/octet-stream", "Content-Range": "bytes " + offset + "-" + (end - 1) + "/" + file.size},
            function (status, body) {
      if (status === 200) { showProgress(body.offset, file.size); sendFrom(file, id, body.offset, 0); return; }
      if (status === 409 && typeof body.offset === "number") { sendFrom(file, id, body.offset, retries); return; }
      if (status === 0 || status >= 500 || (status === 400 && typeof body.offset === "number")) {
        if (retries >= MAX_RETRIES) { fail(["The upload was interrupted several times. Check your connection and try again."]); return; }
        pct.textContent = "connection lost, resuming…";
        setTimeout(function () {  // ask the server how much it has, then go on from there
          request("GET", uploadsUrl + id + "/", null, {}, function (s, info) {
            sendFrom(file, id, s === 200 ? info.offset : offset, retries + 1);
          });
        }, 1000 * Math.pow(2, retries));
        return;
      }
      fail(body.errors || ["Upload failed (" + status + ")."]);
    }, function (e) {
      if (e.lengthComputable) { showProgress(offset + e.loaded, file.size); }
    });
  }

  function complete(id) {
    pct.textContent = "validating…";
    var fields = new FormData(form);
    fields.delete("file");
    var body = {};
    fields.forEach(function (value, key) { if (key !== "csrfmiddlewaretoken") { body[key] = value; } });
    request("POST", uploadsUrl + id + "/complete/", JSON.stringify(body), {"Content-Type": "application/json"}, finished);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    box.hidden = false; errors.hidden = true; errors.innerHTML = ""; button.disabled = true;
    if (file && file.size > chunkSize && window.Blob && Blob.prototype.slice) { chunked(file); } else { singleRequest(); }
  });
})();
