import * as fs from 'node:fs';
import * as path from 'node:path';
import { Document, isNode, LineCounter, parseDocument } from 'yaml';
import { FleetIssue } from './issues';

/** A parsed YAML file of the fleet description that can tell the line of any value in it. */
export interface YamlFile {
  /** Path relative to the fleet folder, as shown in messages. */
  file: string;
  data: unknown;
  lineOf(keyPath: readonly (string | number)[]): number | undefined;
}

export function readYamlFile(fleetDir: string, relative: string, issues: FleetIssue[]): YamlFile | undefined {
  const text = fs.readFileSync(path.join(fleetDir, relative), 'utf8');
  return parseYamlText(text, relative, issues);
}

export function parseYamlText(text: string, file: string, issues: FleetIssue[]): YamlFile | undefined {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const line = error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line;
      issues.push({ file, line, message: `not valid YAML: ${error.message.split('\n')[0]}` });
    }
    return undefined;
  }
  return {
    file,
    data: doc.toJS() ?? {},
    lineOf(keyPath) {
      // Point at the key where there is one (a misspelt key, a duplicate host), else the value.
      for (let depth = keyPath.length; depth >= 0; depth--) {
        const prefix = keyPath.slice(0, depth);
        const node = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true);
        const parent = prefix.length > 0 ? doc.getIn(prefix.slice(0, -1), true) : undefined;
        const pair = parent && isNode(parent) && 'items' in parent
          ? (parent.items as Array<{ key?: unknown }>).find((item) => {
              const key = item?.key;
              return isNode(key) && 'value' in key && String(key.value) === String(prefix[prefix.length - 1]);
            })
          : undefined;
        const keyNode = pair?.key;
        const target = isNode(keyNode) ? keyNode : isNode(node) ? node : undefined;
        if (target?.range) return lineCounter.linePos(target.range[0]).line;
      }
      return undefined;
    },
  };
}
