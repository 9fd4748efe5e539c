// Theming from the host: a few CSS variables, validated so a host can change how the
// embed looks but never inject CSS. Sources, later ones winning: the user's
// prefers-color-scheme, ?theme=&brand=&font= on the embed URL, then signet:theme messages.

const COLOR = /^(#[0-9a-f]{3,8}|(rgb|hsl)a?\([0-9.,%\s/deg]{1,60}\))$/i;
const FONT = /^[\w\s,'"-]{1,200}$/;
const LENGTH = /^\d{1,2}(\.\d+)?(px|rem|em)$/;

const VARIABLES = {
  brand: ["--signet-brand", COLOR],
  brand_text: ["--signet-brand-text", COLOR],
  font: ["--signet-font", FONT],
  radius: ["--signet-radius", LENGTH],
};

export function applyTheme(theme, root = document.documentElement) {
  if (!theme || typeof theme !== "object") return;
  const mode = theme.mode;
  if (mode === "light" || mode === "dark") root.dataset.theme = mode;
  else if (mode === "auto") delete root.dataset.theme;
  for (const [key, [variable, pattern]] of Object.entries(VARIABLES)) {
    const value = theme[key];
    if (typeof value === "string" && pattern.test(value.trim())) {
      root.style.setProperty(variable, value.trim());
    }
  }
}

export function themeFromQuery(search) {
  const params = new URLSearchParams(search);
  return {
    mode: params.get("theme") ?? undefined,
    brand: params.get("brand") ?? undefined,
    font: params.get("font") ?? undefined,
  };
}
