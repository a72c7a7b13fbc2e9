// Firmware update: send the bundle with upload progress, then follow verification and writing.
"use strict";
(function () {
  var form = document.getElementById("update-form");
  if (!form) { return; }
  var POLL_MS = 1000;
  var box = document.getElementById("update-progress-box");
  var bar = document.getElementById("update-progress");
  var phase = document.getElementById("update-phase");
  var error = document.getElementById("update-error");
  var button = document.getElementById("update-submit");

  function parse(xhr) {
    try { return JSON.parse(xhr.responseText); } catch (e) { return null; }
  }

  function show(text, percent) {
    box.hidden = false;
    phase.textContent = text;
    if (percent === null || percent === undefined) {
      bar.removeAttribute("value");  // indeterminate
    } else {
      bar.value = percent;
    }
  }

  function fail(text) {
    box.hidden = true;
    error.textContent = text;
    error.hidden = false;
    button.disabled = false;
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", form.getAttribute("data-status"));
    xhr.onload = function () {
      var data = parse(xhr);
      if (xhr.status !== 200 || !data) {
        fail("Lost track of the update (HTTP " + xhr.status + "); reload the page.");
        return;
      }
      var job = data.job;
      if (!job) { return; }
      if (job.phase === "installed") {
        show(job.text, 100);
        window.location.reload();  // the page then offers the reboot
      } else if (job.phase === "failed") {
        fail(job.text);
      } else {
        show(job.text, job.percent);
        window.setTimeout(poll, POLL_MS);
      }
    };
    xhr.onerror = function () { window.setTimeout(poll, 3 * POLL_MS); };
    xhr.send();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = document.getElementById("update-file").files[0];
    if (!file) { return; }
    var max = Number(form.getAttribute("data-max-bytes"));
    if (max && file.size > max) {
      fail("The file is " + file.size + " bytes; this device takes bundles up to " + max + " bytes.");
      return;
    }
    error.hidden = true;
    button.disabled = true;
    show("Uploading " + file.name, 0);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("data-upload"));
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf.value);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-Bundle-Name", encodeURIComponent(file.name));
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var percent = Math.floor(100 * e.loaded / e.total);
        show("Uploading " + file.name + ": " + percent + " %", percent);
      }
    };
    xhr.onload = function () {
      var data = parse(xhr);
      if (xhr.status === 202 && data && data.job) {
        show(data.job.text, data.job.percent);
        poll();
      } else {
        fail((data && data.error) || ("Upload refused (HTTP " + xhr.status + ")."));
      }
    };
    xhr.onerror = function () { fail("The upload was interrupted; nothing was installed."); };
    xhr.send(file);
  });

  if (form.getAttribute("data-active") === "1") { poll(); }
})();
