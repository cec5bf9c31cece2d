// The TypeScript compiler API's classes, functions and methods, under collect's unit policy
// (bench/reference/typescript.py). Reads a JSON list of paths on stdin, prints
// {path: [[name, start line, kind, category], ...] or null (the parser reported errors)}.
// Run with NODE_PATH pointing at a folder holding the `typescript` package.
const fs = require("fs");
const ts = require("typescript");

const FUNCTION_LIKE = new Set([
  ts.SyntaxKind.FunctionDeclaration, ts.SyntaxKind.MethodDeclaration, ts.SyntaxKind.Constructor,
  ts.SyntaxKind.GetAccessor, ts.SyntaxKind.SetAccessor, ts.SyntaxKind.ArrowFunction,
  ts.SyntaxKind.FunctionExpression,
]);

function scriptKind(path) {
  if (path.endsWith(".tsx")) return ts.ScriptKind.TSX;
  if (path.endsWith(".jsx")) return ts.ScriptKind.JSX;
  if (/\.[cm]?js$/.test(path)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

function nameText(name) {
  if (!name) return null;
  if (ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  return name.getText();
}

function isBoundFunction(node) {
  return node && (ts.isArrowFunction(node) || ts.isFunctionExpression(node));
}

function unitsOf(path) {
  const text = fs.readFileSync(path, "utf8");
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, scriptKind(path));
  if (sf.parseDiagnostics && sf.parseDiagnostics.length) return null;
  const found = [];
  const line = (node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const decorated = (node) => ts.canHaveDecorators(node) && (ts.getDecorators(node) || []).length > 0;
  const add = (name, node, kind, category) => { if (name) found.push([name, line(node), kind, category]); };

  function visit(node, owner) {
    if (FUNCTION_LIKE.has(node.kind)) {
      unitForFunction(node, owner);
      // definitions inside a function are not units; those in its decorators' arguments are
      // (`@Subscription(() => T, { filter(p) {...} })`), as in a class's decorators
      for (const decorator of (ts.canHaveDecorators(node) && ts.getDecorators(node)) || []) visit(decorator, false);
      return;
    }
    if ((ts.isClassDeclaration(node) || ts.isClassExpression(node) || ts.isInterfaceDeclaration(node))) {
      if (node.name) add(node.name.text, node, "class", decorated(node) ? "decorated" : null);
      // a class's decorators and heritage belong to its surroundings, its members to it
      ts.forEachChild(node, (child) => visit(child, node.members.includes(child) ? true : (ts.isDecorator(child) ? false : owner)));
      return;
    }
    ts.forEachChild(node, (child) => visit(child, owner));
  }

  function unitForFunction(node, owner) {
    const kind = owner ? "method" : "function";
    if (ts.isFunctionDeclaration(node)) {
      if (node.name) add(node.name.text, node, "function", null);
      return;
    }
    if (ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isAccessor(node)) {
      if (!node.body) return; // an overload or abstract signature: no code
      const name = ts.isConstructorDeclaration(node) ? "constructor" : nameText(node.name);
      const category = decorated(node) ? "decorated" : (node.name && ts.isStringLiteral(node.name) ? "string-keyed" : null);
      add(name, node, kind, category);
      return;
    }
    bound(node, owner);
  }

  function bound(node, owner) {  // an arrow function or function expression taking its holder's name
    const holder = node.parent;
    const kind = owner ? "method" : "function";
    if (ts.isVariableDeclaration(holder) && holder.initializer === node && ts.isIdentifier(holder.name)) {
      const list = holder.parent;
      const single = list.declarations.length === 1 && ts.isVariableStatement(list.parent);
      add(holder.name.text, single ? list.parent : holder, kind, null);
    } else if (ts.isBinaryExpression(holder) && holder.right === node && holder.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
      const target = holder.left;
      const name = ts.isPropertyAccessExpression(target) ? target.name.text
        : ts.isIdentifier(target) ? target.text : null;
      add(name, ts.isExpressionStatement(holder.parent) ? holder.parent : holder, kind, null);
    } else if (ts.isPropertyAssignment(holder) && holder.initializer === node) {
      add(nameText(holder.name), holder, kind, ts.isStringLiteral(holder.name) ? "string-keyed" : null);
    } else if (ts.isPropertyDeclaration(holder) && holder.initializer === node) {
      add(nameText(holder.name), holder, kind, decorated(holder) ? "decorated" : null);
    }
  }

  visit(sf, false);
  return found;
}

const paths = JSON.parse(fs.readFileSync(0, "utf8"));
const out = {};
for (const path of paths) {
  try { out[path] = unitsOf(path); } catch (e) { out[path] = null; }
}
process.stdout.write(JSON.stringify(out));
