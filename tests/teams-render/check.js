// Draws one Adaptive Card as Teams would and reports what a person would see wrong with it.
// Loaded into the page of tests/suite/teams_render.rs, after Microsoft's `adaptivecards` and
// `markdown-it`.

// The host config Microsoft publishes for Teams (light theme): Segoe UI at Teams' sizes, up to
// six buttons in a row, left-aligned and as wide as their titles, forms opening inline.
const HOST = {
  supportsInteractivity: true,
  spacing: { small: 8, default: 12, medium: 16, large: 20, extraLarge: 24, padding: 16 },
  fontStyles: {
    default: {
      fontFamily: "'Segoe UI', Tahoma, Geneva, Verdana, sans-serif",
      fontSizes: { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 },
      fontWeights: { lighter: 200, default: 400, bolder: 600 },
    },
  },
  actions: {
    maxActions: 6,
    spacing: "default",
    buttonSpacing: 8,
    showCard: { actionMode: "inline", inlineTopMargin: 16, style: "emphasis" },
    preExpandSingleShowCardAction: false,
    actionsOrientation: "horizontal",
    actionAlignment: "left",
  },
  adaptiveCard: { allowCustomStyle: false },
};

// The card being drawn: its mention entities, and what is wrong so far.
let current = { entities: [], problems: [] };

const md = window.markdownit({ html: false, linkify: true, breaks: false });

function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// Teams reads a TextBlock as Markdown and shows each `<at>…</at>` of a mention entity as the
// person's name. A TextBlock must read the same as plain text (apart from the service's own
// bold marks), or clients that read Markdown differently would show it differently.
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  let source = text;
  const marks = [];
  current.entities.forEach((e, i) => {
    const mark = `\uE000${i}\uE001`;
    if (source.includes(e.text)) {
      source = source.split(e.text).join(mark);
      marks.push([mark, e.mentioned.name]);
    }
  });
  let html = md.render(source);
  marks.forEach(([mark, name]) => {
    html = html.split(mark).join(`<span class="mention">${escapeHtml(name)}</span>`);
  });
  let plain = text;
  current.entities.forEach((e) => {
    plain = plain.split(e.text).join(e.mentioned.name);
  });
  plain = plain.split("**").join("");
  const read = document.createElement("div");
  read.innerHTML = html;
  if (read.textContent.trim() !== plain.trim()) {
    current.problems.push(
      `a TextBlock reads differently as Markdown: ${JSON.stringify(text)} shows ${JSON.stringify(read.textContent.trim())}`
    );
  }
  result.outputHtml = html;
  result.didProcess = true;
};

// Elements whose text is cut short (ellipsis or clipped), with what they show.
function cutShort(root) {
  const cut = [];
  root.querySelectorAll("*").forEach((el) => {
    const style = getComputedStyle(el);
    if (el.scrollWidth > el.clientWidth + 1 && (style.overflowX === "hidden" || style.textOverflow === "ellipsis")) {
      cut.push(el);
    }
  });
  return cut;
}

window.drawCard = function (card, width, shows, holds, typed) {
  current = { entities: (card.msteams && card.msteams.entities) || [], problems: [] };
  document.querySelectorAll(".ac-ctrl-overlay, .ac-ctrl-popup-container").forEach((e) => e.remove());
  const stage = document.getElementById("stage");
  stage.innerHTML = "";
  stage.style.width = width + "px";
  const ac = new AdaptiveCards.AdaptiveCard();
  ac.hostConfig = new AdaptiveCards.HostConfig(HOST);
  const context = new AdaptiveCards.SerializationContext();
  ac.parse(card, context);
  for (let i = 0; i < context.eventCount; i++) {
    const ev = context.getEventAt(i);
    // Teams' own `msteams` extension is not in the renderer's schema; everything else must be.
    if (!/msteams/.test(ev.message)) {
      current.problems.push(`the renderer did not accept the card: ${ev.message}`);
    }
  }
  const validation = ac.validateProperties();
  validation.validationEvents.forEach((ev) => current.problems.push(`the renderer: ${ev.message}`));
  const element = ac.render();
  if (!element) {
    current.problems.push("the renderer drew nothing");
    return { problems: current.problems, overflow: false };
  }
  stage.appendChild(element);

  // Buttons: every title whole, none cut short.
  const buttons = Array.from(stage.querySelectorAll("button, [role=button]"));
  const titles = [];
  buttons.forEach((b) => {
    titles.push(b.innerText.trim());
    if (cutShort(b).length > 0 || b.scrollWidth > b.clientWidth + 1) {
      current.problems.push(`the action ${JSON.stringify(b.getAttribute("aria-label") || b.title || b.innerText.trim())} is cut short: it shows ${JSON.stringify(b.innerText.trim())} in ${b.clientWidth} px`);
    }
  });
  (card.actions || [])
    .filter((a) => a.mode !== "secondary")
    .forEach((a) => {
      if (!titles.includes(a.title)) {
        current.problems.push(`the action ${JSON.stringify(a.title)} is not shown whole (buttons: ${JSON.stringify(titles)})`);
      }
    });

  // No other text is cut short either (a choice's label, a heading).
  cutShort(element)
    .filter((el) => !buttons.some((b) => b.contains(el)))
    .forEach((el) => {
      current.problems.push(`text is cut short: ${JSON.stringify(el.innerText.trim())} in ${el.clientWidth} px`);
    });

  // The card is no wider than the screen.
  if (element.scrollWidth > element.clientWidth + 1) {
    current.problems.push(`the card is ${element.scrollWidth} px wide in ${element.clientWidth} px`);
  }

  // Typed text shows exactly as typed; nothing else shows a backslash or an <at> tag.
  const shown = element.innerText.split("\u2060").join("");
  let rest = shown;
  shows.forEach((t) => {
    if (!shown.includes(t)) {
      current.problems.push(`typed text is not shown as typed: ${JSON.stringify(t)}`);
    }
  });
  typed.forEach((t) => {
    rest = rest.split(t).join(" ");
  });
  if (rest.includes("\\")) {
    current.problems.push(`a backslash shows: ${JSON.stringify(rest)}`);
  }
  if (/<\/?at>/i.test(rest)) {
    current.problems.push(`an <at> tag shows: ${JSON.stringify(rest)}`);
  }
  const values = Array.from(stage.querySelectorAll("input, textarea")).map((i) => i.value);
  holds.forEach((t) => {
    if (!values.includes(t)) {
      current.problems.push(`typed text is not kept in its input: ${JSON.stringify(t)}`);
    }
  });

  // Every mention resolves to a name.
  const named = Array.from(stage.querySelectorAll(".mention")).map((m) => m.textContent);
  current.entities.forEach((e) => {
    if (!named.includes(e.mentioned.name)) {
      current.problems.push(`the mention ${JSON.stringify(e.text)} is not shown as a mention`);
    }
  });

  const overflow = (card.actions || []).some((a) => a.mode === "secondary");
  return { problems: current.problems, overflow, titles };
};

// Opens the card's overflow menu and checks it lists every secondary action whole.
window.openOverflow = function (wanted) {
  const problems = [];
  const stage = document.getElementById("stage");
  const more = Array.from(stage.querySelectorAll("button, [role=button]")).find(
    (b) => b.getAttribute("aria-expanded") !== null && !b.innerText.trim().match(/[A-Za-z]{2}/)
  );
  if (!more) {
    return { problems: ["there is no overflow button"] };
  }
  more.click();
  const items = Array.from(document.querySelectorAll(".ac-ctrl-popup-container [role=menuitem]"));
  const listed = items.map((i) => i.innerText.trim());
  wanted.forEach((t) => {
    if (!listed.includes(t)) {
      problems.push(`the menu does not list ${JSON.stringify(t)} whole (it lists ${JSON.stringify(listed)})`);
    }
  });
  items.forEach((i) => {
    if (cutShort(i).length > 0 || i.scrollWidth > i.clientWidth + 1) {
      problems.push(`the menu item ${JSON.stringify(i.innerText.trim())} is cut short`);
    }
  });
  return { problems, listed };
};
