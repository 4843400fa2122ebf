// hmllm serve pages: drag-and-drop upload with a progress bar, and job status polling.
// Loaded from /static only (the CSP forbids inline scripts); user strings go through textContent.
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (form) {
    var input = document.getElementById("file");
    var drop = document.getElementById("drop");
    var chosen = document.getElementById("chosen");
    var bar = document.getElementById("progress");
    var message = document.getElementById("message");
    var maxBytes = parseInt(form.dataset.maxBytes, 10);
    var file = null;

    function choose(f) {
      file = f;
      chosen.textContent = f ? f.name + " (" + (f.size / 1048576).toFixed(1) + " MiB)" : "no file chosen";
    }
    input.addEventListener("change", function () { choose(input.files[0] || null); });
    ["dragenter", "dragover"].forEach(function (ev) {
      drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { choose(e.dataTransfer.files[0]); }
    });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!file) { message.textContent = "Choose or drop a video first."; return; }
      if (file.size > maxBytes) { message.textContent = "The file is larger than the server accepts."; return; }
      var data = new FormData();
      data.append("file", file, file.name);
      Array.prototype.forEach.call(document.getElementById("audiences").selectedOptions, function (o) {
        data.append("audiences", o.value);
      });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/jobs");
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 202 && body.id) {
          window.location.assign("/jobs/" + encodeURIComponent(body.id));
        } else {
          var detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || xhr.statusText);
          message.textContent = "Upload refused (" + xhr.status + "): " + detail;
        }
      });
      xhr.addEventListener("error", function () { message.textContent = "Network error; try again."; });
      xhr.send(data);
    });
  }

  var status = document.getElementById("job-status");
  if (status && (status.dataset.status === "queued" || status.dataset.status === "running")) {
    var id = status.dataset.jobId;
    var timer = setInterval(function () {
      fetch("/api/jobs/" + encodeURIComponent(id), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          status.textContent = job.status;
          if (job.status === "done" || job.status === "failed") {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* transient: keep polling */ });
    }, 1000);
  }
})();
