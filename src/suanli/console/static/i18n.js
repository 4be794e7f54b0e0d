// Languages, time zone and number formats of the console.
//
// Two languages: "en" and "zh-CN". The choice is remembered (localStorage), and defaults to the
// browser's language. Each page module registers its own messages, so no file holds all of them:
//
//   import { register, t } from "./i18n.js";
//   register({
//     en: { "fleet.title": "Fleet", "fleet.nodes": "{n} nodes" },
//     "zh-CN": { "fleet.title": "资源池", "fleet.nodes": "{n} 个节点" },
//   });
//   h("h1", {}, t("fleet.title"));  t("fleet.nodes", { n: 3 })
//
// A key missing in the chosen language falls back to English, then to the key itself (so a missing
// message shows up as its key, which the browser tests look for). Times are shown in the operator's
// time zone (the server says which; Asia/Shanghai by default). Amounts arrive from the API as exact
// decimal strings and are formatted by Intl.NumberFormat from the string (never through a float).

export const LANGS = ["en", "zh-CN"];
const LANG_KEY = "suanli.lang";
const messages = { en: {}, "zh-CN": {} };
let zone = "Asia/Shanghai";

/** The language the browser prefers, as one of LANGS. */
export function browserLang() {
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const p of prefs) {
    const l = String(p).toLowerCase();
    if (l.startsWith("zh")) return "zh-CN";
    if (l.startsWith("en")) return "en";
  }
  return "en";
}

/** The language in use: the remembered choice, else the browser's. */
export function lang() {
  const saved = localStorage.getItem(LANG_KEY);
  return LANGS.includes(saved) ? saved : browserLang();
}

/** Choose a language (remembered across visits); the caller redraws the page. */
export function setLang(value) {
  if (!LANGS.includes(value)) throw new Error(`language must be one of ${LANGS.join(", ")}, got ${value}`);
  localStorage.setItem(LANG_KEY, value);
  document.documentElement.lang = value;
}

/** Set `<html lang>` to the language in use (app.js calls it on load). */
export function applyLang() {
  document.documentElement.lang = lang();
}

/** Add messages: {en: {key: text}, "zh-CN": {key: text}}. Later registrations of a key win. */
export function register(dicts) {
  for (const [l, dict] of Object.entries(dicts)) {
    if (!messages[l]) throw new Error(`unknown language ${l}`);
    Object.assign(messages[l], dict);
  }
}

/** The message `key` in the language in use, with {name} placeholders filled from `params`. */
export function t(key, params) {
  const l = lang();
  const text = messages[l][key] ?? messages.en[key] ?? key;
  if (!(key in messages[l])) asked.add(key);
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

const asked = new Set(); // keys a page asked for that the language in use lacks

/** The keys pages asked for that had no message in the language in use at the time (the browser
 * tests check that it stays empty: no raw key and no English fallback on a zh-CN page). */
export function unknown() {
  return [...asked].filter((k) => !(k in messages.en) || !(k in messages["zh-CN"]));
}

/** Does `key` have a message in `l`? (The browser tests check that every key has both.) */
export function has(key, l) {
  return key in messages[l];
}

/** Every registered key with the languages that lack it, for the completeness test. */
export function missing() {
  const keys = new Set([...Object.keys(messages.en), ...Object.keys(messages["zh-CN"])]);
  return [...keys].filter((k) => !(k in messages.en) || !(k in messages["zh-CN"]));
}

export function setTimeZone(tz) {
  if (tz) zone = tz;
}

export function timeZone() {
  return zone;
}

function locale() {
  return lang() === "zh-CN" ? "zh-CN" : "en-GB";
}

/** An ISO instant as date and time in the operator's time zone, e.g. "2026-12-06 19:42". */
export function fmtDateTime(iso, { seconds = false } = {}) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: seconds ? "2-digit" : undefined, hourCycle: "h23",
  }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds ? `:${parts.second}` : ""}`;
}

/** An ISO instant's date in the operator's time zone, e.g. "2026-12-06". */
export function fmtDate(iso) {
  return iso ? fmtDateTime(iso).slice(0, 10) : "—";
}

/** A decimal string (or integer) for the locale, with at most `max` and at least `min` decimals. */
export function fmtNumber(value, { min = 0, max = 2 } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: min, maximumFractionDigits: max, signDisplay: "negative" })
    .format(String(value));
}

/** An amount (decimal string) in a currency, for the locale: "¥8,720.85" / "US$12.00". */
export function fmtMoney(value, currency = "CNY", { max = 2 } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  return new Intl.NumberFormat(locale(), {
    style: "currency", currency, currencyDisplay: "narrowSymbol", signDisplay: "negative",
    minimumFractionDigits: 2, maximumFractionDigits: Math.max(2, max),
  }).format(String(value));
}

/** A fraction (decimal string or number, 0..1) as a percentage: "42.5 %" / "42.5%". */
export function fmtPercent(fraction, { max = 1 } = {}) {
  if (fraction === null || fraction === undefined || fraction === "") return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", minimumFractionDigits: 0, maximumFractionDigits: max })
    .format(String(fraction));
}
