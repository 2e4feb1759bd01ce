// django-celery-beat's periodic task form: under the crontab field, show the chosen schedule in
// words. From its inline script (our CSP refuses inline scripts), writing text, not HTML.
(function () {
  "use strict";
  var script = document.getElementById("periodic-task-overrides");
  var data = document.getElementById("readable-crontabs");
  if (!script || !data || typeof django === "undefined") { return; }
  var $ = django.jQuery;
  var readable = JSON.parse(data.textContent);
  var original = script.getAttribute("data-crontab-help") || "";
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    var help = $(".field-crontab .help");
    help.text(original);
    help.append(document.createElement("br"));
    help.append(document.createTextNode("Translation: " + (readable[$("#id_crontab").val()] || "")));
  });
})();
