// ESLint for the pages' modules (run by `npm run check`, beside TypeScript's
// checker): the recommended rules catch what types do not, such as unused
// variables and imports, unreachable code and fall-through in switches.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/js/dist/", "node_modules/", ".venv/"] },
  js.configs.recommended,
  {
    files: ["static/js/src/**/*.js"],
    languageOptions: { ecmaVersion: 2021, sourceType: "module", globals: globals.browser },
  },
  {
    files: ["static/js/build.mjs", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
