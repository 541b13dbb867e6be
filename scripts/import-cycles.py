#!/usr/bin/env python3
# Lists import cycles between the modules under src/ (one module per file), from `use` trees and
# `crate::` paths. Exits 1 when there is a cycle. `scripts/import-cycles.py MODULE…` also prints
# what each named module imports. Run from the repository root.
import re,glob,os,sys
files={}
for p in glob.glob('src/**/*.rs',recursive=True):
    mod=re.sub(r'/mod$','',p[4:-3]).replace('/','::')
    if mod in ('lib','main'): continue
    files[mod]=open(p).read()
mods=set(files)
def resolve(cur,path):
    # path like crate::a::b::c or super::x
    parts=path.split('::')
    if parts[0]=='crate': parts=parts[1:]
    elif parts[0]=='super':
        base=cur.split('::')[:-1]
        parts=base+parts[1:]
    elif parts[0]=='self':
        parts=cur.split('::')+parts[1:]
    else: return None
    # longest prefix that is a module
    for i in range(len(parts),0,-1):
        m='::'.join(parts[:i])
        if m in mods: return m
    return None
edges={m:set() for m in mods}
for m,src in files.items():
    src=re.sub(r'#\[cfg\(test\)\][\s\S]*$','',src)
    # expand use trees roughly: collect crate::/super:: paths
    for u in re.finditer(r'^\s*(?:pub(?:\(crate\))?\s+)?use\s+([\s\S]*?);',src,re.M):
        text=re.sub(r'\s+','',u.group(1))
        def expand(prefix,t):
            # t may be a::{b,c::{d}}
            out=[]
            depth=0;i=0
            if '{' not in t: return [prefix+t]
            j=t.index('{'); head=t[:j]; inner=t[j+1:t.rindex('}')]
            items=[];cur='';d=0
            for ch in inner:
                if ch=='{':d+=1
                if ch=='}':d-=1
                if ch==',' and d==0: items.append(cur);cur=''
                else: cur+=ch
            if cur: items.append(cur)
            for it in items: out+=expand(prefix+head,it)
            return out
        for path in expand('',text):
            path=path.split(' as ')[0]
            if path.endswith('::self'): path=path[:-6]
            r=resolve(m,path)
            if r and r!=m: edges[m].add(r)
    for u in re.finditer(r'\b(crate(?:::[a-z_]+)+)(::)?(?!\{|[a-z_:])',src):
        if src[u.end():u.end()+1]=='{' : continue
        r=resolve(m,u.group(1).rstrip(':'))
        if r and r!=m: edges[m].add(r)
# find cycles among files (Tarjan)
index={};low={};stack=[];on=set();res=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=c[0];c[0]+=1;stack.append(v);on.add(v)
    for w in edges[v]:
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=stack.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
for v in mods:
    if v not in index: sc(v)
for comp in res: print('cycle:',sorted(comp))
print(len(res), "cycles among", len(mods), "modules")
for m in sys.argv[1:]:
    print(m,'->',sorted(edges[m]))
sys.exit(1 if res else 0)
