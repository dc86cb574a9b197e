// What a page may not have, measured in the page once its pictures have loaded
// (tests/browser/test_all_pages.py evaluates this function).
(async () => {
  await Promise.all([...document.images].filter((i) => i.getAttribute("src") && !i.complete)
    .map((i) => new Promise((done) => { i.onload = i.onerror = done; setTimeout(done, 5000); })));
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && getComputedStyle(el).position !== "fixed"
      && !el.closest("[hidden], details:not([open]) > :not(summary)")
      && ![...ancestors(el)].some((a) => /auto|scroll|hidden|clip/.test(getComputedStyle(a).overflowX));
  });
  function* ancestors(el) { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) yield a; }
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const crowded = [...document.querySelectorAll("svg.plot")].flatMap((svg) => {
    const axes = [...svg.querySelectorAll("text.axis")], ticks = [...svg.querySelectorAll("text.tick")];
    return axes.flatMap((a) => ticks.filter((t) => meets(a.getBoundingClientRect(), t.getBoundingClientRect()))
      .map((t) => `chart label "${a.textContent}" overlaps its tick "${t.textContent}"`));
  });
  return {
    crowded,
    overflow: document.documentElement.scrollWidth > width
      ? `page is ${document.documentElement.scrollWidth} px wide in a ${width} px window; widest: `
        + wide.slice(0, 4).map((el) => `${name(el)} (right edge ${Math.round(el.getBoundingClientRect().right)})`).join(", ")
      : null,
    broken: [...document.images].filter((i) => i.getAttribute("src") && i.complete && i.naturalWidth === 0)
      .map((i) => i.getAttribute("src").slice(0, 80)),
  };
})
