// go/parser's structs, interfaces, functions and methods, under collect's unit policy
// (bench/reference/golang.py). Reads a JSON list of paths on stdin, prints
// {path: [[name, start line, kind, category], ...] or null (the parser reported errors)}.
package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
)

func unitsOf(path string) [][]interface{} {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	found := [][]interface{}{}
	line := func(pos token.Pos) int { return fset.Position(pos).Line }
	for _, decl := range file.Decls { // top level only: a type declared in a function body is not a unit
		switch d := decl.(type) {
		case *ast.FuncDecl:
			kind := "function"
			if d.Recv != nil {
				kind = "method"
			}
			found = append(found, []interface{}{d.Name.Name, line(d.Pos()), kind, nil})
		case *ast.GenDecl:
			if d.Tok != token.TYPE {
				continue
			}
			grouped := d.Lparen.IsValid()
			for _, spec := range d.Specs {
				ts := spec.(*ast.TypeSpec)
				switch ts.Type.(type) {
				case *ast.StructType, *ast.InterfaceType:
				default:
					continue
				}
				start, category := d.Pos(), interface{}(nil)
				if grouped {
					start, category = ts.Pos(), "grouped"
				}
				found = append(found, []interface{}{ts.Name.Name, line(start), "class", category})
			}
		}
	}
	return found
}

func main() {
	var paths []string
	if err := json.NewDecoder(os.Stdin).Decode(&paths); err != nil {
		panic(err)
	}
	out := map[string]interface{}{}
	for _, path := range paths {
		units := unitsOf(path)
		if units == nil {
			out[path] = nil
		} else {
			out[path] = units
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
