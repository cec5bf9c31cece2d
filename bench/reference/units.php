<?php
// nikic/PHP-Parser (Debian's php-parser) for classes, interfaces, traits, enums, functions and
// methods, under collect's unit policy (bench/reference/php.py). Reads a JSON list of paths on
// stdin, prints {path: [[name, start line, kind, category], ...] or null (a parse error)}.
require_once "/usr/share/php/PhpParser/autoload.php";  // Debian: apt-get install php-parser

use PhpParser\Node;
use PhpParser\ParserFactory;

function visit($node, ?string $owner, array &$found): void
{
    if (is_array($node)) {
        foreach ($node as $child) {
            visit($child, $owner, $found);
        }
        return;
    }
    if (!$node instanceof Node) {
        return;
    }
    if ($node instanceof Node\Stmt\ClassLike) {
        if ($node->name !== null) {
            $found[] = [$node->name->toString(), $node->getStartLine(), "class", null];
        }
        foreach ($node->stmts as $stmt) {
            visit($stmt, $node->name === null ? "anonymous" : "named", $found);
        }
        return;
    }
    if ($node instanceof Node\Stmt\ClassMethod) {
        $category = $owner === "anonymous" ? "anonymous-class" : null;
        $found[] = [$node->name->toString(), $node->getStartLine(), "method", $category];
        return; // definitions inside a function body are not units
    }
    if ($node instanceof Node\Stmt\Function_) {
        $found[] = [$node->name->toString(), $node->getStartLine(), "function", null];
        return;
    }
    if ($node instanceof Node\Expr\Closure || $node instanceof Node\Expr\ArrowFunction) {
        return;
    }
    foreach ($node->getSubNodeNames() as $name) {
        visit($node->$name, $owner, $found);
    }
}

$parser = (new ParserFactory())->create(ParserFactory::PREFER_PHP7);
$out = [];
foreach (json_decode(stream_get_contents(STDIN), true) as $path) {
    try {
        $found = [];
        visit($parser->parse(file_get_contents($path)), null, $found);
        $out[$path] = $found;
    } catch (Throwable $e) {
        $out[$path] = null;
    }
}
echo json_encode($out);
