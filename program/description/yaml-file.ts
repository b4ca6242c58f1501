import * as fs from 'node:fs';
import * as path from 'node:path';
import { Document, isMap, isNode, isScalar, isSeq, LineCounter, Node, Pair, parseDocument, visit } from 'yaml';
import { FleetIssue } from './issues';

/** A parsed YAML file of the fleet description that can tell the line of any value in it. */
export interface YamlFile {
  /** Path relative to the fleet folder, as shown in messages. */
  file: string;
  data: unknown;
  lineOf(keyPath: readonly (string | number)[]): number | undefined;
}

export function readYamlFile(fleetDir: string, relative: string, issues: FleetIssue[]): YamlFile | undefined {
  const text = readFleetText(fleetDir, relative, issues);
  return text === undefined ? undefined : parseYamlText(text, relative, issues);
}

/**
 * A fleet file's text. A symbolic link is refused, not followed: a pull request's fleet folder
 * could otherwise point a host_vars file at /proc/self/environ, and a parse error would show the
 * runner's environment.
 */
export function readFleetText(fleetDir: string, relative: string, issues: FleetIssue[]): string | undefined {
  let at = fleetDir;
  for (const part of relative.split(/[\\/]/)) {
    at = path.join(at, part);
    if (fs.lstatSync(at).isSymbolicLink()) {
      issues.push({ file: relative, message: `${path.relative(fleetDir, at)} is a symbolic link; the fleet description holds files, not links (replace it by the file it points to)` });
      return undefined;
    }
  }
  return fs.readFileSync(at, 'utf8');
}

const keyText = (key: unknown): string => (isScalar(key) ? String(key.value) : String(key));

/**
 * Keys that repeat in a map, as the library's `uniqueKeys` would report them ("Map keys must be
 * unique"), found with one Set per map: the library compares each key with every earlier one,
 * which took minutes for an inventory group of 10,000 hosts.
 */
function duplicateKeys(doc: Document): { key: string; offset: number; firstOffset: number }[] {
  const found: { key: string; offset: number; firstOffset: number }[] = [];
  const offsetOf = (key: unknown, fallback: number) => (isNode(key) && key.range ? key.range[0] : fallback);
  visit(doc, {
    Map(_key, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const text = keyText(pair.key);
        const offset = offsetOf(pair.key, map.range?.[0] ?? 0);
        const first = seen.get(text);
        if (first !== undefined) found.push({ key: text, offset, firstOffset: first });
        else seen.set(text, offset);
      }
    },
  });
  return found;
}

export function parseYamlText(text: string, file: string, issues: FleetIssue[]): YamlFile | undefined {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const duplicates = doc.errors.length === 0 ? duplicateKeys(doc) : [];
  if (doc.errors.length > 0 || duplicates.length > 0) {
    for (const error of doc.errors) {
      const line = error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line;
      issues.push({ file, line, message: `not valid YAML: ${error.message.split('\n')[0]}` });
    }
    for (const d of duplicates) {
      issues.push({ file, line: lineCounter.linePos(d.offset).line, message: `not valid YAML: Map keys must be unique: ${d.key} is also on line ${lineCounter.linePos(d.firstOffset).line}` });
    }
    return undefined;
  }

  // Children of each map or sequence by key, built on first use: one lookup per device in an
  // inventory of 100,000 must not scan the group's hosts.
  const children = new WeakMap<Node, Map<string, { key?: Node; value: unknown }>>();
  const childrenOf = (node: Node): Map<string, { key?: Node; value: unknown }> | undefined => {
    if (!isMap(node) && !isSeq(node)) return undefined;
    let index = children.get(node);
    if (!index) {
      index = new Map();
      if (isMap(node)) {
        for (const pair of node.items as Pair[]) if (!index.has(keyText(pair.key))) index.set(keyText(pair.key), { key: isNode(pair.key) ? pair.key : undefined, value: pair.value });
      } else {
        node.items.forEach((item, i) => index!.set(String(i), { value: item }));
      }
      children.set(node, index);
    }
    return index;
  };
  /** The key node and the value of a path, as far as the path exists. */
  const resolve = (keyPath: readonly (string | number)[]): { key?: Node; value: unknown } | undefined => {
    let entry: { key?: Node; value: unknown } = { value: doc.contents };
    for (const step of keyPath) {
      const next = isNode(entry.value) ? childrenOf(entry.value)?.get(String(step)) : undefined;
      if (!next) return undefined;
      entry = next;
    }
    return entry;
  };

  return {
    file,
    data: doc.toJS() ?? {},
    lineOf(keyPath) {
      // Point at the key where there is one (a misspelt key, a duplicate host), else the value.
      for (let depth = keyPath.length; depth >= 0; depth--) {
        const entry = resolve(keyPath.slice(0, depth));
        const target = entry?.key ?? (isNode(entry?.value) ? entry.value : undefined);
        if (target?.range) return lineCounter.linePos(target.range[0]).line;
      }
      return undefined;
    },
  };
}
