// docflow's web interface: the one script, served by the gateway at /ui/app.js.
// No library and no build step. Every page reads without it; it adds live updates of
// documents in flight (server-sent events from /ui/events), the video workspace's
// seeking and following (block "video"), the lesson-plan workspace's filters and marks
// (block "lesson"), and the upload page's direct upload to the object store with its
// progress. It says nothing of its own: every word it shows comes from the page, in the
// page's language (`data-words`, `data-badges`, `data-steps`, rendered from the catalogue).
"use strict";

(function () {
  var FINAL = { normalized: true, failed: true, rejected: true };

  // The JSON of an element's attribute; {} when absent or unreadable.
  function words(node, name) {
    try { return JSON.parse(node.getAttribute(name) || "{}"); } catch (e) { return {}; }
  }

  // A message with its `{name}` placeholders filled.
  function fill(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (all, name) {
      return values[name] !== undefined ? values[name] : all;
    });
  }

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // `badges`: each state's word for this viewer (a teacher's phase, or the state).
  function setBadge(badge, state, badges) {
    badge.className = "badge state-" + state;
    badge.textContent = (badges && badges[state]) || state;
  }

  // The key's last segment without a browser upload's leading UUID.
  function fileName(key) {
    var parts = key.split("/");
    var name = parts[parts.length - 1];
    var uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-(?=.)/i;
    return name.replace(uuid, "");
  }

  // Dates and times in the viewer's own zone and the page's language.
  function localFormat() {
    if (!window.Intl || !Intl.DateTimeFormat) return null;
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });
    } catch (e) { return null; }
  }
  var LOCAL = localFormat();

  function local(date) {
    return LOCAL ? LOCAL.format(date) : date.toLocaleString();
  }

  function when(at) {
    var date = new Date(at);
    var time = el("time", { datetime: at, "class": "at", title: date.toISOString().slice(0, 16).replace("T", " ") + " UTC" }, local(date));
    time.setAttribute("data-local", "");
    return time;
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
    var said = words(table, "data-words");
    // The columns' names from the header (a sortable one's link, without its arrow), the
    // kinds' words from the kind filter: the page says them in its language.
    var labels = Array.prototype.map.call(table.tHead ? table.tHead.rows[0].cells : [], function (th) {
      var link = th.querySelector("a");
      return (link ? link.firstChild.textContent : th.textContent).trim();
    });
    var kinds = {};
    Array.prototype.forEach.call(document.querySelectorAll("select#kind option[value]"), function (option) {
      if (option.value) kinds[option.value] = option.textContent;
    });
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
        setBadge(row.querySelector(".badge"), change.state, said.badges);
        row.setAttribute("data-state", change.state);
        return;
      }
      if (!matches(change)) return;
      row = el("tr", { "data-id": change.id, "class": "arrived" });
      var link = el("a", { href: "/ui/documents/" + change.id }, fileName(change.key));
      var cells = [link, el("span", {}, ""), document.createTextNode(kinds[change.kind] || change.kind),
        document.createTextNode(change.uploader), document.createTextNode("\u2014"), document.createTextNode(""),
        el("time", { datetime: change.at, title: local(new Date(change.at)) }, said.now || "")];
      cells.forEach(function (content, i) {
        var cell = el("td", { "data-label": labels[i] });
        cell.appendChild(content);
        row.appendChild(cell);
      });
      setBadge(cells[1], change.state, said.badges);
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
        localTimes(body);
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
    var badges = words(facts, "data-badges");
    var steps = timeline ? words(timeline, "data-steps") : {};
    var colon = (timeline && timeline.getAttribute("data-colon")) || ": ";
    listen("/ui/events", function (change) {
      if (change.id !== id || change.state === facts.getAttribute("data-state")) return;
      facts.setAttribute("data-state", change.state);
      setBadge(facts.querySelector(".badge"), change.state, badges);
      if (timeline) {
        var item = el("li");
        item.appendChild(when(change.at));
        item.appendChild(document.createTextNode(colon + (steps[change.state] || change.state)));
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
    var said = words(form, "data-words");
    var steps = said.steps || {};
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
          say([said["upload-js-stopped"]].concat(parts).filter(Boolean).join(" "));
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
      say(said["upload-js-preparing"]);
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
        .catch(function (error) {
          say(fill(said["upload-js-cannot-start"], { why: error.message }));
          button.disabled = false;
        });
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
          say(said["upload-js-reading-why"]);
          explain(change.id);
        } else if (change.state === "normalized") {
          say(said["upload-js-ready"]);
        } else {
          // Processing, with the usual wait of this kind when docflow knows it.
          var kind = form.querySelector('input[name="what"]:checked');
          var wait = said["wait-" + (kind && kind.value === "video" ? "video" : "document")];
          say(fill(said["upload-js-processing"], { step: steps[change.state] || change.state }) + (wait ? " " + wait : ""));
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
          say(fill(said["upload-js-sending"], { n: bar.value }));
        }
      });
      request.addEventListener("load", function () {
        if (request.status >= 200 && request.status < 300) {
          bar.value = 100;
          say(said["upload-js-sent"]);
        } else {
          say(fill(said["upload-js-store-refused"], { status: request.status }));
          button.disabled = false;
        }
      });
      request.addEventListener("error", function () {
        say(said["upload-js-unreachable"]);
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
    var said = words(form, "data-words");
    if (!note || !window.fetch) return;
    var ask = new URLSearchParams();
    ask.set("csrf", form.querySelector('input[name="csrf"]').value);
    ask.set("token", token);
    fetch("/ui/sign-in/preview", { method: "POST", body: ask, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var names = { as: answer.as, current: answer.current };
        var text = answer.as ? fill(said.as, names) : said.unknown;
        if (answer.current) {
          text += " " + fill(said.current, names);
          if (answer.as) {
            var replace = form.querySelector('input[name="switch"]') || el("input", { type: "hidden", name: "switch", value: "1" });
            form.appendChild(replace);
            button.textContent = fill(said["switch"], names);
          }
        } else if (answer.as) {
          button.textContent = fill(said["sign-in"], names);
        }
        note.textContent = text;
        note.hidden = false;
        button.focus();
      })
      .catch(function () { /* the form stays as it is: filled, not sent */ });
  }

  // Times in the viewer's own zone. A moment (`time.at`, written in UTC by the server)
  // is rewritten, its UTC text kept as its title; an age ("5 min ago") is titled with it.
  function localTimes(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("time[datetime]"), function (time) {
      var date = new Date(time.getAttribute("datetime"));
      if (isNaN(date.getTime()) || time.hasAttribute("data-local")) return;
      if (time.classList.contains("at")) {
        time.title = time.textContent;
        time.textContent = local(date);
      } else if (!time.title) {
        time.title = local(date);
      }
      time.setAttribute("data-local", "");
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
/* --- lesson --- */
// The lesson-plan workspace: a finding's card moves the focus to its place in the text
// (the link's own navigation scrolls there and marks it :target), and the filters show
// the findings of the severities and categories ticked, dimming the others' marks.
(function () {
  "use strict";

  function toText(event) {
    var link = event.target.closest && event.target.closest("a.to-text");
    if (!link) return;
    var mark = document.getElementById(link.hash.slice(1));
    if (!mark) return;
    Array.prototype.forEach.call(document.querySelectorAll("mark.place.current"), function (m) {
      m.classList.remove("current");
    });
    mark.classList.add("current");
    mark.focus({ preventScroll: true });
  }

  function filters(form) {
    function ticked(name) {
      var values = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[name=" + name + "]"), function (box) {
        if (box.checked) values[box.value] = true;
      });
      return values;
    }
    function apply() {
      var severities = ticked("severity");
      var categories = ticked("category");
      var shown = {};
      var any = false;
      Array.prototype.forEach.call(document.querySelectorAll("li.finding"), function (item) {
        var show = !!severities[item.getAttribute("data-severity")] && !!categories[item.getAttribute("data-category")];
        item.hidden = !show;
        if (show) { shown[item.id] = true; any = true; }
      });
      Array.prototype.forEach.call(document.querySelectorAll("section.severity-group"), function (group) {
        group.hidden = !group.querySelector("li.finding:not([hidden])");
      });
      Array.prototype.forEach.call(document.querySelectorAll("mark.place"), function (mark) {
        var ids = (mark.getAttribute("data-findings") || "").split(" ");
        mark.classList.toggle("dim", !ids.some(function (id) { return shown[id]; }));
      });
      form.querySelector(".lesson-none").hidden = any;
    }
    form.hidden = false;
    form.addEventListener("change", apply);
  }

  function start() {
    var form = document.querySelector("form[data-lesson-filters]");
    if (!form) return;
    filters(form);
    document.addEventListener("click", toText);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
