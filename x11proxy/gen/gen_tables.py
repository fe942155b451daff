#!/usr/bin/env python3
"""Generates the X11 proxy's protocol tables from xcb-proto's XML.

For every request, reply, event and error of the chosen modules: its code,
its fixed size, and which of its fields hold resource ids, atoms, visuals or
timestamps: at fixed offsets, in the first variable list, or in a value list
(a <switch> of <bitcase>s). xcbgen would erase the id kinds (<xidtype>,
<xidunion>, <typedef> all become CARD32), so this reads the XML directly.

usage: gen_tables.py XML_DIR OUT_HPP OUT_CPP MODULE...
"""
import sys
import xml.etree.ElementTree as ET

BASIC = {'CARD8': 1, 'INT8': 1, 'BYTE': 1, 'BOOL': 1, 'char': 1, 'void': 1,
         'CARD16': 2, 'INT16': 2, 'CARD32': 4, 'INT32': 4, 'float': 4,
         'CARD64': 8, 'INT64': 8, 'double': 8}
# Typedefs of plain numbers that still carry a meaning the proxy translates.
MEANINGFUL_TYPEDEFS = {'VISUALID': 'Visualid', 'TIMESTAMP': 'Timestamp'}


def camel(name):
    return ''.join(p[:1].upper() + p[1:].lower() for p in name.replace('-', '_').split('_'))


class Variable(Exception):
    """A size that depends on the message's contents."""


class Module:
    def __init__(self, xml_dir, header):
        self.root = ET.parse(f'{xml_dir}/{header}.xml').getroot()
        self.header = header
        self.xname = self.root.get('extension-xname', '')
        self.imports = [e.text for e in self.root.findall('import')]
        if header != 'xproto' and 'xproto' not in self.imports:
            self.imports.append('xproto')
        self.types = {}  # name -> ('basic', size) | ('id', kind) | ('alias', qname) | ('struct', elt)
        self.enums = {}
        for e in self.root:
            n = e.get('name')
            if e.tag == 'xidtype' or e.tag == 'xidunion':
                prefix = '' if header == 'xproto' else camel(header)
                self.types[n] = ('id', prefix + camel(n))
            elif e.tag == 'typedef':
                newname = e.get('newname')
                if header == 'xproto' and newname in MEANINGFUL_TYPEDEFS:
                    self.types[newname] = ('id', MEANINGFUL_TYPEDEFS[newname])
                else:
                    self.types[newname] = ('alias', e.get('oldname'))
            elif e.tag in ('struct', 'union'):
                self.types[n] = (e.tag, e)
            elif e.tag == 'enum':
                self.enums[n] = {i.get('name'): i for i in e.findall('item')}


class Generator:
    def __init__(self, xml_dir, headers):
        self.xml_dir = xml_dir
        self.modules = {}
        self.kinds = ['None']
        self.unions = {}  # kind -> member kinds
        self.order = []
        for h in headers:
            self.load(h)
        self.order = list(headers)

    def load(self, header):
        if header in self.modules:
            return self.modules[header]
        m = Module(self.xml_dir, header)
        self.modules[header] = m
        for imp in m.imports:
            self.load(imp)
        for e in m.root:
            if e.tag in ('xidtype', 'xidunion'):
                kind = m.types[e.get('name')][1]
                if kind not in self.kinds:
                    self.kinds.append(kind)
        if header == 'xproto':
            for k in MEANINGFUL_TYPEDEFS.values():
                if k not in self.kinds:
                    self.kinds.append(k)
        for e in m.root.findall('xidunion'):
            self.unions[m.types[e.get('name')][1]] = [self.resolve(m, t.text)[1] for t in e.findall('type')]
        return m

    def resolve(self, m, tname):
        """('basic', size) | ('id', kind) | ('struct'/'union', elt, module)."""
        if tname in BASIC:
            return ('basic', BASIC[tname])
        if ':' in tname:
            ns, name = tname.split(':', 1)
            cands = [self.load(ns)]
        else:
            name = tname
            cands = [m] + [self.load(i) for i in m.imports]
        for c in cands:
            t = c.types.get(name)
            if t is None:
                continue
            if t[0] == 'alias':
                return self.resolve(c, t[1])
            if t[0] in ('struct', 'union'):
                return (t[0], t[1], c)
            return t
        raise KeyError(f'{m.header}: unknown type {tname}')

    # Layout of a sequence of XML children: returns (fixed size, id fields,
    # first variable list, value list); stops at the first element whose
    # size depends on the contents.
    def layout(self, m, elts, offset, ctx):
        ids, lst, values = [], None, None
        for e in elts:
            if e.tag == 'pad':
                if e.get('bytes'):
                    offset += int(e.get('bytes'))
                    continue
                align = int(e.get('align'))  # alignment pads follow variable parts
                if offset % align:
                    raise Variable()
                continue
            if e.tag in ('field', 'exprfield'):
                t = self.resolve(m, e.get('type'))
                size, inner = self.type_layout(m, t)
                if t[0] == 'id' and not e.get('altenum') is None:
                    pass  # altenum values (None, CurrentTime...) are kept as they are
                for off, kind, name in inner:
                    ids.append((offset + off, kind, e.get('name') + name))
                offset += size
                continue
            if e.tag == 'list':
                t = self.resolve(m, e.get('type'))
                try:
                    size, inner = self.type_layout(m, t)
                except Variable:
                    size, inner = 0, []
                if inner and size and lst is None:
                    lst = (offset, size, inner, e.get('name'))
                fixed = self.fixed_count(m, e)
                if fixed is None or size == 0:
                    return offset, ids, lst, values, False
                for i in range(fixed):
                    for off, kind, name in inner:
                        ids.append((offset + i * size + off, kind, f"{e.get('name')}[{i}]{name}"))
                offset += fixed * size
                continue
            if e.tag == 'switch':
                values = self.value_list(m, e, ctx, offset)
                return offset, ids, lst, values, False
            if e.tag in ('fd', 'doc', 'required_start_align', 'reply', 'length', 'description'):
                continue
            # <union>, <eventstruct> and the like: stop here.
            return offset, ids, lst, values, False
        return offset, ids, lst, values, True

    def fixed_count(self, m, list_elt):
        kids = [k for k in list_elt if k.tag != 'doc']
        if len(kids) == 1 and kids[0].tag == 'value':
            return int(kids[0].text, 0)
        return None

    def type_layout(self, m, t):
        if t[0] == 'basic':
            return t[1], []
        if t[0] == 'id':
            return 4, [(0, t[1], '')]
        elt, mod = t[1], t[2]
        if t[0] == 'union':
            sizes = []
            for k in elt:
                if k.tag in ('field', 'list'):
                    size, _, _, _, complete = self.layout(mod, [k], 0, None)
                    if not complete:
                        raise Variable()
                    sizes.append(size)
            return max(sizes), []  # a union's ids depend on context (ClientMessage): hand-written
        size, ids, _, _, complete = self.layout(mod, list(elt), 0, None)
        if not complete:
            raise Variable()
        return size, [(off, kind, '.' + name) for off, kind, name in ids]

    def value_list(self, m, sw, ctx, offset):
        ref = sw.find('fieldref')
        if ref is None or ctx is None or ref.text not in ctx:
            return None
        mask_offset, mask_size = ctx[ref.text]
        bits = []
        for bc in sw.findall('bitcase'):
            mask = 0
            for er in bc.findall('enumref'):
                item = self.find_enum(m, er.get('ref'), er.text)
                bit = item.find('bit')
                mask |= (1 << int(bit.text)) if bit is not None else int(item.find('value').text, 0)
            fields = [k for k in bc if k.tag == 'field']
            if len(fields) != 1:
                return None  # not a simple value list
            t = self.resolve(m, fields[0].get('type'))
            size, inner = self.type_layout(m, t)
            kind = inner[0][1] if inner else 'None'
            bits.append((mask, size, kind, fields[0].get('name')))
        return (mask_offset, mask_size, offset, bits)

    def find_enum(self, m, name, item):
        for c in [m] + [self.load(i) for i in m.imports]:
            if name in c.enums:
                return c.enums[name][item]
        raise KeyError(name)

    def field_offsets(self, m, elts, offset):
        """name -> (offset, size) of the fixed fields, for value-list masks."""
        out = {}
        for e in elts:
            if e.tag == 'pad' and e.get('bytes'):
                offset += int(e.get('bytes'))
            elif e.tag == 'field':
                t = self.resolve(m, e.get('type'))
                try:
                    size, _ = self.type_layout(m, t)
                except Variable:
                    break
                out[e.get('name')] = (offset, size)
                offset += size
            elif e.tag in ('doc', 'reply', 'fd', 'required_start_align'):
                continue
            else:
                break
        return out

    # Where the first fields go in each kind of message.
    def message(self, m, elt, kind):
        kids = [k for k in elt if k.tag not in ('doc', 'reply', 'required_start_align')]
        ext = m.header != 'xproto'
        if kind == 'request':
            if ext:
                return self.place(m, kids, 4)
            return self.place_after_byte(m, kids, 4)
        if kind == 'reply':
            return self.place_after_byte(m, kids, 8)
        if kind == 'event':
            if elt.get('xge') == 'true':
                return self.place(m, kids, 10)
            if elt.get('no-sequence-number') == 'true':
                return self.place(m, kids, 1)
            return self.place_after_byte(m, kids, 4)
        return self.place(m, kids, 4)  # error: code at 1, sequence at 2

    def place_after_byte(self, m, kids, rest):
        """Byte 1 takes the first element when it is one byte wide."""
        if kids:
            first = kids[0]
            one = (first.tag == 'pad' and first.get('bytes') == '1')
            if first.tag == 'field':
                t = self.resolve(m, first.get('type'))
                one = t[0] == 'basic' and t[1] == 1
            if one:
                size, ids, lst, values, complete = self.place(m, kids[:1], 1)
                rsize, rids, rlst, rvalues, rcomplete = self.place(m, kids[1:], rest, prefix=kids[:1], prefix_at=1)
                return rsize, ids + rids, rlst, rvalues, rcomplete
        return self.place(m, kids, rest)

    def place(self, m, kids, offset, prefix=(), prefix_at=0):
        ctx = self.field_offsets(m, prefix, prefix_at)
        ctx.update(self.field_offsets(m, kids, offset))
        try:
            return self.layout(m, kids, offset, ctx)
        except Variable:
            return offset, [], None, None, False

    def collect(self):
        exts = []
        for h in self.order:
            m = self.modules[h]
            requests, events, errors = [], [], []
            for r in m.root.findall('request'):
                req = self.message(m, r, 'request')
                rep = r.find('reply')
                reply = None
                if rep is not None:
                    reply = self.message(m, rep, 'reply')
                    reply = (max(reply[0], 32),) + reply[1:]
                requests.append((r.get('name'), int(r.get('opcode')), req, reply))
            evs = {}
            for e in m.root.findall('event'):
                evs[e.get('name')] = e
            for e in m.root:
                if e.tag == 'event':
                    lay = self.message(m, e, 'event')
                    events.append((e.get('name'), int(e.get('number')), event_size(lay, e), e.get('xge') == 'true'))
                elif e.tag == 'eventcopy':
                    src = evs[e.get('ref')]
                    lay = self.message(m, src, 'event')
                    events.append((e.get('name'), int(e.get('number')), event_size(lay, src), src.get('xge') == 'true'))
            ers = {e.get('name'): e for e in m.root.findall('error')}
            for e in m.root:
                if e.tag in ('error', 'errorcopy'):
                    src = e if e.tag == 'error' else ers[e.get('ref')]
                    lay = self.message(m, src, 'error')
                    errors.append((e.get('name'), int(e.get('number')), (max(lay[0], 32),) + lay[1:]))
            exts.append((m, requests, events, errors))
        return exts


def event_size(lay, elt):
    """Core-style events are 32 bytes whatever their fields; generic ones longer."""
    return lay if elt.get('xge') == 'true' else (max(lay[0], 32),) + lay[1:]


def emit(gen, out_hpp, out_cpp):
    with open(out_hpp, 'w') as f:
        f.write('// Generated by x11proxy/gen/gen_tables.py from xcb-proto: do not edit.\n')
        f.write('#pragma once\n\n#include <cstdint>\n\nnamespace ckpt::x11 {\n\n')
        f.write('// What a field holds: a kind of resource id, an atom, a visual, a timestamp.\n')
        f.write('enum class IdKind : std::uint8_t {\n')
        for k in gen.kinds:
            f.write(f'  {k},\n')
        f.write('};\n\ninline constexpr int kIdKindCount = %d;\n\n' % len(gen.kinds))
        f.write('}  // namespace ckpt::x11\n')
    out = []
    w = out.append
    w('// Generated by x11proxy/gen/gen_tables.py from xcb-proto: do not edit.\n')
    w('#include "x11proxy/proto/Tables.hpp"\n\nnamespace ckpt::x11 {\nnamespace {\n\n')
    counter = [0]

    def arr(ctype, items):
        if not items:
            return '{}'
        counter[0] += 1
        name = f'a{counter[0]}'
        w(f'constexpr {ctype} {name}[] = {{\n')
        for it in items:
            w(f'    {it},\n')
        w('};\n')
        return name

    def ids_arr(ids):
        return arr('IdField', [f'{{{o}, IdKind::{k}, "{n}"}}' for o, k, n in ids])

    def layout(name, code, lay, xge=False):
        size, ids, lst, values, _ = lay
        a = ids_arr(ids)
        lptr = 'nullptr'
        if lst:
            inner = ids_arr(lst[2])
            counter[0] += 1
            lptr = f'&l{counter[0]}'
            w(f'constexpr ListLayout l{counter[0]}{{{lst[0]}, {lst[1]}, {inner}, "{lst[3]}"}};\n')
        vptr = 'nullptr'
        if values:
            bits = arr('ValueBit', [f'{{0x{mk:x}u, {sz}, IdKind::{k}, "{n}"}}' for mk, sz, k, n in values[3]])
            counter[0] += 1
            vptr = f'&v{counter[0]}'
            w(f'constexpr ValueListLayout v{counter[0]}{{{values[0]}, {values[1]}, {values[2]}, {bits}}};\n')
        return f'{{"{name}", {code}, {size}, {"true" if xge else "false"}, {a}, {lptr}, {vptr}}}'

    ext_entries = []
    for m, requests, events, errors in gen.collect():
        reqs = []
        for name, op, req, reply in requests:
            rl = layout(name, op, req)
            rp = 'nullptr'
            if reply:
                body = layout(name, op, reply)
                counter[0] += 1
                w(f'constexpr MessageLayout r{counter[0]} = {body};\n')
                rp = f'&r{counter[0]}'
            reqs.append(f'{{{rl}, {rp}}}')
        ra = arr('RequestLayout', reqs)
        ea = arr('MessageLayout', [layout(n, c, l, x) for n, c, l, x in events])
        era = arr('MessageLayout', [layout(n, c, l) for n, c, l in errors])
        ext_entries.append(f'{{"{m.xname}", "{m.header}", {ra}, {ea}, {era}}}')
    unions = []
    for k, members in gen.unions.items():
        ma = arr('IdKind', [f'IdKind::{x}' for x in members])
        unions.append(f'{{IdKind::{k}, {ma}}}')
    ua = arr('IdUnion', unions)
    ea = arr('ExtensionLayout', ext_entries)
    names = ', '.join(f'"{k}"' for k in gen.kinds)
    w(f'constexpr const char* kKindNames[] = {{{names}}};\n\n}}  // namespace\n\n')
    w(f'std::span<const ExtensionLayout> generatedModules() {{ return {ea}; }}\n')
    w(f'std::span<const IdUnion> idUnions() {{ return {ua}; }}\n')
    w('const char* idKindName(IdKind k) { return kKindNames[static_cast<int>(k)]; }\n\n')
    w('}  // namespace ckpt::x11\n')
    with open(out_cpp, 'w') as f:
        f.write(''.join(out))


def main():
    xml_dir, out_hpp, out_cpp, *headers = sys.argv[1:]
    emit(Generator(xml_dir, headers), out_hpp, out_cpp)


if __name__ == '__main__':
    main()
