// Checks a script's source map with the `source-map` package (a maintained consumer), both ways:
// - every token start of every source (`sourcesContent`) that the map names maps to a generated
//   position holding the same text (or, for a rewritten reference, a mapping carrying the token
//   as its name) and back; tokens the map never names are listed in `unmapped`;
// - every identifier of the script that the consumer maps (its default bias: the nearest segment
//   at or before it on its line) lands on the same identifier in the source, or on the name its
//   mapping carries.
// Usage: node check_sourcemap.js NODE_MODULES SCRIPT MAP ; prints a JSON report.
const path = require("path");
const fs = require("fs");
const { SourceMapConsumer } = require(path.join(process.argv[2], "source-map"));

const script = fs.readFileSync(process.argv[3], "utf8").split("\n");
const raw = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));
const TOKENS = /[\w$]+|\S/gu; // (u: a character beyond U+FFFF is one token, two columns)
const IDENTIFIERS = /[A-Za-z_$][\w$]*/g;

(async () => {
  const consumer = await new SourceMapConsumer(raw);
  const report = { checked: 0, identifiers: 0, wrong: [], unmapped: {}, sources: consumer.sources };
  const wrong = (what) => { if (report.wrong.length < 5) report.wrong.push(what); };
  const contents = {};
  consumer.sources.forEach((source) => { contents[source] = consumer.sourceContentFor(source).split("\n"); });
  const byOriginal = new Map();
  consumer.eachMapping((m) => {
    if (m.source !== null) byOriginal.set(`${m.source}:${m.originalLine}:${m.originalColumn}`, m);
  });

  consumer.sources.forEach((source) => {
    contents[source].forEach((text, index) => {
      let match;
      TOKENS.lastIndex = 0;
      while ((match = TOKENS.exec(text))) {
        const original = { source, line: index + 1, column: match.index };
        const mapping = byOriginal.get(`${source}:${original.line}:${original.column}`);
        if (mapping === undefined) {
          (report.unmapped[source] = report.unmapped[source] || []).push([original.line, original.column, match[0]]);
          continue;
        }
        report.checked += 1;
        const generated = { line: mapping.generatedLine, column: mapping.generatedColumn };
        const there = script[generated.line - 1].substr(generated.column, match[0].length);
        const back = consumer.originalPositionFor(generated);
        const same = mapping.name ? mapping.name === match[0] : there === match[0];
        if (!same || back.source !== source || back.line !== original.line || back.column !== original.column) {
          wrong({ original, token: match[0], generated, there, name: mapping.name, back });
        }
      }
    });
  });

  script.forEach((text, index) => {
    let match;
    IDENTIFIERS.lastIndex = 0;
    while ((match = IDENTIFIERS.exec(text))) {
      const position = consumer.originalPositionFor({ line: index + 1, column: match.index });
      if (position.source === null) continue;
      report.identifiers += 1;
      const line = contents[position.source][position.line - 1];
      const found = (line.slice(position.column).match(/^[A-Za-z_$][\w$]*/) || [null])[0];
      if (found !== (position.name || match[0])) {
        wrong({ generated: { line: index + 1, column: match.index }, identifier: match[0], position, found });
      }
    }
  });
  consumer.destroy();
  console.log(JSON.stringify(report));
})();
