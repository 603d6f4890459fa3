// The step types the server knows, with the JSON Schema each step's form is made from.
import * as api from "../api.js";
import { FALLBACK_STEP_TYPES } from "./fallback-step-types.js";

function normalise(body) {
  let entries;
  if (Array.isArray(body)) entries = body;
  else if (Array.isArray(body.items)) entries = body.items;
  else if (Array.isArray(body.step_types)) entries = body.step_types;
  else entries = Object.entries(body.types || body).map(([type, value]) =>
    (value && value.schema ? { type, ...value } : { type, schema: value }));
  const types = {};
  for (const entry of entries) {
    const type = entry.type || entry.name;
    types[type] = {
      type,
      title: entry.title || entry.label || type,
      description: entry.description || entry.schema?.description || "",
      schema: entry.schema || {},
      limits: entry.limits || {},
      exits: entry.exits || null,
    };
  }
  return types;
}

let cached = null;

/** Every step type by name (asked once per page load). */
export async function loadStepTypes() {
  if (cached) return cached;
  let body;
  try {
    body = await api.get("/api/step-types");
  } catch (error) {
    if (!api.missingEndpoint(error)) throw error;
    body = FALLBACK_STEP_TYPES;
  }
  cached = normalise(body);
  return cached;
}
