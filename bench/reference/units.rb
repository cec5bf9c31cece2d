# Ruby's own parser (Ripper) for classes, modules and methods, under collect's unit policy
# (bench/reference/ruby.py). Reads a JSON list of paths on stdin, prints
# {path: [[name, start line, kind, category], ...] or null (the parser reported errors)}.
require "json"
require "ripper"

# A position-bearing leaf ([:@ident, "name", [line, col]]) and its text.
def leaf(node)
  return nil unless node.is_a?(Array)
  return [node[1], node[2][0]] if node[0].is_a?(Symbol) && node[0].to_s.start_with?("@")
  node.each { |child| found = leaf(child); return found if found }
  nil
end

# A class's name as written (`Foo::Bar`), and the line it is on.
def const_name(node)
  case node[0]
  when :const_ref, :var_ref, :top_const_ref then leaf(node)
  when :const_path_ref
    outer = const_name(node[1])
    inner = leaf(node[2])
    [outer ? "#{outer[0]}::#{inner[0]}" : inner[0], outer ? outer[1] : inner[1]]
  else leaf(node)
  end
end

def visit(node, owner, found)
  return unless node.is_a?(Array)
  case node[0]
  when :class, :module
    name, line = const_name(node[1])
    found << [name, line, "class", nil]
    node[1..].each { |child| visit(child, true, found) }
    return
  when :def
    name, line = leaf(node[1])
    found << [name, line, owner ? "method" : "function", nil]
    return # definitions inside a method body are not units
  when :defs
    name, _ = leaf(node[3])
    line = leaf(node[1])[1]
    found << [name, line, owner ? "method" : "function", nil]
    return
  end
  node.each { |child| visit(child, owner, found) }
end

def units_of(path)
  source = File.read(path, encoding: "UTF-8")
  parser = Ripper::SexpBuilder.new(source, path)
  tree = parser.parse
  return nil if tree.nil? || parser.error?
  found = []
  visit(tree, false, found)
  found
end

out = {}
JSON.parse($stdin.read).each do |path|
  out[path] = begin
    units_of(path)
  rescue StandardError
    nil
  end
end
print JSON.generate(out)
