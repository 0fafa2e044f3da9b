// The "Usage" section: the tenant's limits in force and today's counts (GET /usage), shown
// when asked; a tenant without limits is not metered, and the section says so.

import { call } from "./api.js";

const $ = (id) => document.getElementById(id);

const limitText = (value, unit) => (value === null ? "none" : `${value}${unit}`);

/** Fetch and show the caller's usage; resolves to the call's result. */
export async function showUsage() {
  const status = $("usage-status");
  const list = $("usage-list");
  status.textContent = "Loading…";
  status.className = "status loading";
  const answer = await call("GET", "usage");
  if (!answer.ok) {
    list.hidden = true;
    status.textContent = answer.message;
    status.className = "status error";
    return answer;
  }
  const { limits, today } = answer.body;
  const rows = [
    ["Rate", `${limitText(limits.rate_per_second, " events/s")}, burst ${limitText(limits.burst, "")}`],
    ["Daily quota", limitText(limits.daily, " events")],
    ["Reads", limitText(limits.reads_per_second, " requests/s")],
  ];
  if (today) {
    rows.push(
      ["Accepted today", String(today.accepted)],
      ["Refused today", String(today.refused)],
      ["Quota left", today.quota_remaining === null ? "no quota" : String(today.quota_remaining)],
      ["Current rate", `${today.current_rate_per_second} events/s (last full minute)`],
    );
  }
  list.replaceChildren(
    ...rows.map(([term, value]) => {
      const row = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = term;
      dd.textContent = value;
      row.append(dt, dd);
      return row;
    }),
  );
  list.hidden = false;
  status.textContent = today
    ? `Tenant ${answer.body.tenant}, UTC day ${today.day}; counts reach the server within 10 s.`
    : `Tenant ${answer.body.tenant} has no limits on events: its events are not metered.`;
  status.className = "status";
  return answer;
}
