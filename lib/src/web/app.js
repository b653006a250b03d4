// docflow's web interface: the one script, served by the gateway at /ui/app.js.
// No library and no build step. Every page reads without it; it adds live updates of
// documents in flight (server-sent events from /ui/events), the video workspace's
// seeking and following (block "video" at the end), and the upload page's direct upload to the object store with its progress.
"use strict";

(function () {
  var WORDS = {
    received: "received from the upload store",
    submitted: "sent to the provider",
    processed: "processed by the provider",
    validated: "results checked",
    normalized: "checked and stored: ready to read",
    failed: "stopped: it failed",
    rejected: "refused by the provider"
  };
  var FINAL = { normalized: true, failed: true, rejected: true };

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setBadge(badge, state) {
    badge.className = "badge state-" + state;
    badge.textContent = state;
  }

  // The key's last segment without a browser upload's leading UUID.
  function fileName(key) {
    var parts = key.split("/");
    var name = parts[parts.length - 1];
    var uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-(?=.)/i;
    return name.replace(uuid, "");
  }

  function when(at) {
    var date = new Date(at);
    return el("time", { datetime: at }, date.toUTCString().replace(/:\d\d GMT$/, " UTC"));
  }

  // Opens the stream of state changes; `onChange(change)` for each, `onOpen(again)`
  // each time it (re)connects.
  function listen(url, onChange, onOpen) {
    if (!window.EventSource) return null;
    var source = new EventSource(url);
    var opened = false;
    source.addEventListener("open", function () {
      if (onOpen) onOpen(opened);
      opened = true;
    });
    source.addEventListener("status", function (event) {
      try { onChange(JSON.parse(event.data)); } catch (e) { /* not a change: ignored */ }
    });
    return source;
  }

  // The tab a state belongs to when no review exists yet (a new document has none).
  function tabOf(state) {
    if (state === "normalized") return "to_review";
    if (state === "failed" || state === "rejected") return "needs_attention";
    return "in_progress";
  }

  // The list's first page in the default order: badges change, new documents that
  // match the filters and the tab appear.
  function liveList(table) {
    var query = new URLSearchParams(location.search);
    var filter = {
      tab: table.getAttribute("data-tab") || "all",
      state: query.get("state") || "",
      kind: query.get("kind") || "",
      uploader: query.get("uploader") || "",
      key: (query.get("key") || "").toLowerCase()
    };
    var body = table.tBodies[0];
    function matches(change) {
      return (filter.tab === "all" || filter.tab === tabOf(change.state)) &&
        (!filter.state || filter.state === change.state) &&
        (!filter.kind || filter.kind === change.kind) &&
        (!filter.uploader || filter.uploader === change.uploader) &&
        (!filter.key || change.key.toLowerCase().indexOf(filter.key) >= 0);
    }
    listen("/ui/events", function (change) {
      var row = body.querySelector('tr[data-id="' + change.id + '"]');
      if (row) {
        setBadge(row.querySelector(".badge"), change.state);
        row.setAttribute("data-state", change.state);
        return;
      }
      if (!matches(change)) return;
      row = el("tr", { "data-id": change.id, "class": "arrived" });
      var link = el("a", { href: "/ui/documents/" + change.id }, fileName(change.key));
      var cells = [["File", link], ["State", el("span", {}, "")],
        ["Kind", document.createTextNode(change.kind === "video" ? "video" : "lesson plan")],
        ["Uploader", document.createTextNode(change.uploader)], ["Findings", document.createTextNode("\u2014")],
        ["Review", document.createTextNode("")], ["Uploaded", el("time", { datetime: change.at }, "just now")]];
      cells.forEach(function (pair) {
        var cell = el("td", { "data-label": pair[0] });
        cell.appendChild(pair[1]);
        row.appendChild(cell);
      });
      setBadge(cells[1][1], change.state);
      body.insertBefore(row, body.firstChild);
      table.hidden = false;
      var empty = document.querySelector("p.empty");
      if (empty) empty.hidden = true;
    }, function (again) {
      // Changes missed while disconnected: the rows are read again, in place (the
      // filters and whatever has the focus stay as they are).
      if (again) reloadRows(table);
    });
  }

  // Replaces the list's rows with those of the same page read again; nothing changes
  // when the answer is not that page (a session that ended, the gateway unreachable).
  function reloadRows(table) {
    if (!window.fetch || !window.DOMParser) return;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector("table[data-live]");
        if (!fresh || !fresh.tBodies[0]) return;
        var body = table.tBodies[0];
        while (body.firstChild) body.removeChild(body.firstChild);
        Array.prototype.slice.call(fresh.tBodies[0].rows).forEach(function (row) {
          body.appendChild(document.importNode(row, true));
        });
        table.hidden = body.rows.length === 0;
        var empty = document.querySelector("p.empty");
        if (empty) empty.hidden = body.rows.length > 0;
        var pages = document.querySelector("nav.pages");
        var freshPages = page.querySelector("nav.pages");
        if (pages && freshPages) pages.parentNode.replaceChild(document.importNode(freshPages, true), pages);
      })
      .catch(function () { /* the next reconnect tries again */ });
  }

  // A document's page: its state and timeline follow; a final state reloads the page,
  // which then shows the results or the reason.
  function liveDocument(facts) {
    var id = facts.getAttribute("data-document");
    var restarting = facts.hasAttribute("data-restarting");
    var timeline = document.querySelector("ol.timeline");
    listen("/ui/events", function (change) {
      if (change.id !== id || change.state === facts.getAttribute("data-state")) return;
      facts.setAttribute("data-state", change.state);
      setBadge(facts.querySelector(".badge"), change.state);
      if (timeline) {
        var item = el("li");
        item.appendChild(when(change.at));
        item.appendChild(document.createTextNode(": " + (WORDS[change.state] || change.state)));
        timeline.appendChild(item);
      }
      if (FINAL[change.state]) location.reload();
      // Restarted by Retry: the page is read again without its notice.
      else if (restarting) location.replace(location.pathname);
    }, function (again) {
      // Changes missed while disconnected: the page is read again.
      if (again) location.reload();
    });
  }

  // The upload page: a presigned form from the gateway, the file straight to the store
  // with its progress, then the document followed to its final state.
  function uploadPage(form) {
    var kinds = form.querySelectorAll('input[name="what"]');
    var file = form.querySelector("#file");
    var accept = { document: file.getAttribute("accept"), video: "video/*,.mp4,.mov,.m4v,.mkv,.webm" };
    kinds.forEach(function (radio) {
      radio.addEventListener("change", function () { file.setAttribute("accept", accept[radio.value]); });
      // A new version of a video arrives with "video" chosen.
      if (radio.checked) file.setAttribute("accept", accept[radio.value]);
    });
    var progress = document.getElementById("progress");
    var bar = document.getElementById("sent");
    var status = document.getElementById("status");
    var follow = document.getElementById("follow");
    var again = document.getElementById("again");
    function say(text) { status.textContent = text; }

    // A stopped upload: the reason the person can act on, as the document's page words it
    // (its problem section), and that page's action when it offers a new version.
    function explain(id) {
      if (!window.fetch || !window.DOMParser) return;
      fetch("/ui/documents/" + id, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var section = new DOMParser().parseFromString(html, "text/html").querySelector("section.problem");
          if (!section) return;
          var parts = [".headline", ".explanation", ".next"].map(function (part) {
            var node = section.querySelector(part);
            return node ? node.textContent.trim() : "";
          });
          say("It stopped. " + parts.filter(Boolean).join(" "));
          progress.setAttribute("data-cause", section.getAttribute("data-cause") || "");
          var action = section.querySelector("a.action");
          if (action && again) {
            again.querySelector("a").setAttribute("href", action.getAttribute("href"));
            again.hidden = false;
          }
        })
        .catch(function () { /* the status already says it stopped; the document's page says why */ });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = file.files[0];
      if (!chosen) return;
      var button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      progress.hidden = false;
      bar.value = 0;
      say("Preparing the upload…");
      var ask = new URLSearchParams();
      ask.set("csrf", form.getAttribute("data-csrf"));
      ask.set("file_name", chosen.name);
      ask.set("content_type", chosen.type || "application/octet-stream");
      ask.set("size", String(chosen.size));
      var teacher = form.querySelector("#teacher");
      if (teacher) ask.set("teacher", teacher.value);
      var notify = form.querySelector("#notify");
      if (notify) ask.set("notify", notify.checked ? "1" : "0");
      fetch("/ui/upload", { method: "POST", body: ask, credentials: "same-origin" })
        .then(function (response) {
          return response.json().then(function (body) {
            // `message` is the gateway's own words for the refusal (never the JSON detail).
            if (!response.ok) throw new Error(body.message || body.error || "refused");
            return body;
          });
        })
        .then(function (grant) { watchThenSend(grant, chosen, button); })
        .catch(function (error) { say("The upload could not start: " + error.message); button.disabled = false; });
    });

    function watchThenSend(grant, chosen, button) {
      var started = false;
      var events = "/ui/events?key=" + encodeURIComponent(grant.key) + "&watch=" + encodeURIComponent(grant.watch);
      var source = listen(events, function (change) {
        if (change.key !== grant.key) return;
        follow.hidden = false;
        follow.querySelector("a").setAttribute("href", "/ui/documents/" + change.id);
        progress.setAttribute("data-state", change.state);
        if (change.state === "failed" || change.state === "rejected") {
          say("It stopped. Reading why…");
          explain(change.id);
        } else {
          say("docflow has it: " + (WORDS[change.state] || change.state) + ".");
        }
        if (FINAL[change.state]) { source.close(); button.disabled = false; }
      }, function () {
        // Listening before the file is sent: no change can be missed.
        if (!started) { started = true; send(grant, chosen, button); }
      });
      if (!source) send(grant, chosen, button);
    }

    function send(grant, chosen, button) {
      var data = new FormData();
      Object.keys(grant.fields).forEach(function (name) { data.append(name, grant.fields[name]); });
      data.append("file", chosen);
      var request = new XMLHttpRequest();
      request.open("POST", grant.url);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          bar.value = Math.round(100 * event.loaded / event.total);
          say("Sending: " + bar.value + " %");
        }
      });
      request.addEventListener("load", function () {
        if (request.status >= 200 && request.status < 300) {
          bar.value = 100;
          say("Sent. Waiting for docflow to take it…");
        } else {
          say("The store refused the file (HTTP " + request.status + "). Try again.");
          button.disabled = false;
        }
      });
      request.addEventListener("error", function () {
        say("The file could not reach the store. Check the connection and try again.");
        button.disabled = false;
      });
      request.send(data);
    }
  }

  // A token in the address's fragment (a link someone sent): it only fills the form,
  // never submits it. The page says who the token signs in as, and who is signed in now
  // (a link from another site arrives without the session cookie, so only this same-origin
  // request can tell); the person decides with the button. The fragment, which no server
  // sees, is removed from the address at once.
  function signInFromFragment(form) {
    var match = /^#token=(.+)$/.exec(location.hash);
    if (!match) return;
    history.replaceState(null, "", location.pathname);
    var token = decodeURIComponent(match[1]);
    form.querySelector("#token").value = token;
    var note = document.getElementById("sign-in-as");
    var button = form.querySelector('button[type="submit"]');
    if (!note || !window.fetch) return;
    var ask = new URLSearchParams();
    ask.set("csrf", form.querySelector('input[name="csrf"]').value);
    ask.set("token", token);
    fetch("/ui/sign-in/preview", { method: "POST", body: ask, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var words = answer.as ? "This link signs you in as " + answer.as + "." : "This link's token is not one of this gateway's.";
        if (answer.current) {
          words += " You are signed in as " + answer.current + ": signing in ends that session.";
          if (answer.as) {
            var replace = form.querySelector('input[name="switch"]') || el("input", { type: "hidden", name: "switch", value: "1" });
            form.appendChild(replace);
            button.textContent = "Switch to " + answer.as;
          }
        } else if (answer.as) {
          button.textContent = "Sign in as " + answer.as;
        }
        note.textContent = words;
        note.hidden = false;
        button.focus();
      })
      .catch(function () { /* the form stays as it is: filled, not sent */ });
  }

  // The list's times, titled with the date and time in the viewer's own zone.
  function localTimes() {
    Array.prototype.forEach.call(document.querySelectorAll("tbody time[datetime]"), function (time) {
      if (!time.title) time.title = new Date(time.getAttribute("datetime")).toLocaleString();
    });
  }

  // The uploader field offers the uploaders whose id starts with what is typed.
  function uploaderPicker(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var asked = null;
    function fill() {
      var prefix = input.value.trim();
      if (!window.fetch || prefix === asked) return;
      asked = prefix;
      fetch("/ui/uploaders?limit=50&prefix=" + encodeURIComponent(prefix), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (ids) {
          while (list.firstChild) list.removeChild(list.firstChild);
          ids.forEach(function (id) { list.appendChild(el("option", { value: id })); });
        })
        .catch(function () { asked = null; });
    }
    input.addEventListener("focus", fill);
    input.addEventListener("input", fill);
  }

  function start() {
    var table = document.querySelector("table[data-live]");
    if (table) liveList(table);
    localTimes();
    var picker = document.querySelector("input[list=uploaders]");
    if (picker) uploaderPicker(picker);
    // On a phone the list's filters start folded; they stay open on a wider screen.
    var fold = document.querySelector("details.fold");
    if (fold && window.matchMedia && window.matchMedia("(max-width: 40rem)").matches) fold.open = false;
    var facts = document.querySelector("dl[data-document]");
    if (facts && (!FINAL[facts.getAttribute("data-state")] || facts.hasAttribute("data-restarting"))) liveDocument(facts);
    var upload = document.getElementById("upload");
    if (upload) uploadPage(upload);
    var signIn = document.querySelector("form.sign-in");
    if (signIn) {
      signInFromFragment(signIn);
      // The link opened on this very page changes only the fragment.
      window.addEventListener("hashchange", function () { signInFromFragment(signIn); });
    }
    // A token in the address of any other page is dropped, unused.
    else if (/^#token=/.test(location.hash)) history.replaceState(null, "", location.pathname + location.search);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/* --- video --- */
// The video workspace (web/video.rs): a chapter's or cue's time seeks the player in place
// (without the script it is a link to ?t=, which starts the player there); the cue being
// said is marked aria-current and kept in view while the video plays (inside the
// transcript's own box on a phone, without moving the page), unless the reader scrolled
// it away. Smooth scrolling only when motion is welcome.
(function () {
  "use strict";

  function workspace(video) {
    var list = document.querySelector("ol.cues");
    var cues = list ? Array.prototype.slice.call(list.querySelectorAll("li[data-start]")) : [];
    var starts = cues.map(function (cue) { return parseFloat(cue.getAttribute("data-start")) || 0; });
    var calm = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var current = null;

    // Whether `cue` shows inside the list's own box (a phone's layout), or in the window.
    function inBox(cue) {
      var at = cue.getBoundingClientRect(), box = list.getBoundingClientRect();
      return at.bottom > box.top && at.top < box.bottom;
    }
    function inWindow(cue) {
      var at = cue.getBoundingClientRect();
      return at.bottom > 0 && at.top < window.innerHeight;
    }

    // Brings `cue` into view: inside the list's box when it scrolls (the page stays where
    // it is), else in the window; not when the reader moved the previous cue out of view.
    function reveal(cue, previous) {
      var behavior = calm ? "auto" : "smooth";
      if (list.scrollHeight > list.clientHeight + 1) {
        if (previous && !inBox(previous)) return;
        var at = cue.getBoundingClientRect(), box = list.getBoundingClientRect();
        if (at.top < box.top) list.scrollBy({ top: at.top - box.top, behavior: behavior });
        else if (at.bottom > box.bottom) list.scrollBy({ top: at.bottom - box.bottom, behavior: behavior });
      } else if (!previous || inWindow(previous)) {
        cue.scrollIntoView({ block: "nearest", behavior: behavior });
      }
    }

    // The cue that started last at the player's position (a hundredth of a second early,
    // as a seek may land just short of a start). Scrolls only for a seek or playback,
    // never as the page loads.
    function follow(event) {
      var t = video.currentTime + 0.01;
      var at = -1;
      for (var i = 0; i < starts.length && starts[i] <= t; i++) at = i;
      var next = at >= 0 ? cues[at] : null;
      if (next === current) return;
      var previous = current;
      if (previous) previous.removeAttribute("aria-current");
      current = next;
      if (!current) return;
      current.setAttribute("aria-current", "true");
      if (event && event.type !== "loadedmetadata") reveal(current, previous);
    }

    ["timeupdate", "seeking", "seeked", "loadedmetadata"].forEach(function (name) {
      video.addEventListener(name, follow);
    });
    document.querySelectorAll("a[data-seek]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        video.currentTime = parseFloat(link.getAttribute("data-seek")) || 0;
        follow(event);
        var playing = video.play();
        if (playing && playing.catch) playing.catch(function () { /* needs a gesture: the position is set */ });
      });
    });
    follow();
  }

  function start() {
    var video = document.getElementById("player");
    if (video) workspace(video);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
