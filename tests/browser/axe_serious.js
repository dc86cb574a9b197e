// axe-core's serious and critical violations on the page: {rule, text} each
// (tests/browser/test_all_pages.py injects axe-core, then evaluates this function).
(async () => {
  const r = await axe.run(document, { resultTypes: ["violations"] });
  return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ rule: v.id, text: `${v.impact} ${v.id}: ${v.help} – ${v.nodes.slice(0, 3).map((n) => n.target.join(" ") + (v.id === "color-contrast" ? ` (${n.any[0]?.message})` : "")).join(" | ")}` }));
})
