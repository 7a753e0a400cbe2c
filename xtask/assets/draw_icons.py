# Draws Haven's icon (a white shield with a tick on blue) as PNGs, no libraries.
import zlib, struct, math, sys
def png(path, size, maskable=False):
    blue=(0x17,0x46,0x7d); white=(255,255,255)
    rows=[]
    s=size/512.0
    inset = 0.1 if maskable else 0.0  # maskable icons keep content in the safe zone
    def shield(x,y):
        # map into 512 space, shrink for maskable
        X=(x/s-256)/(1-2*inset)+256; Y=(y/s-256)/(1-2*inset)+256
        if X<100 or X>412 or Y<84 or Y>436: return False
        if Y<148:
            # sloped top from (256,84) to (100/412,148)
            return abs(X-256) <= (Y-84)/64*156
        if Y<=248: return True
        # lower curve: narrowing to point at 436
        t=(Y-248)/(436-248)
        half=156*math.sqrt(max(0,1-t*t))
        return abs(X-256)<=half
    def tick(x,y):
        X=(x/s-256)/(1-2*inset)+256; Y=(y/s-256)/(1-2*inset)+256
        def seg(ax,ay,bx,by):
            dx,dy=bx-ax,by-ay; L=dx*dx+dy*dy
            t=max(0,min(1,((X-ax)*dx+(Y-ay)*dy)/L))
            px,py=ax+t*dx,ay+t*dy
            return (X-px)**2+(Y-py)**2 <= 18*18
        return seg(196,262,240,306) or seg(240,306,324,214)
    def corner(x,y):
        if maskable: return True
        r=96*s
        cx=min(max(x,r),size-r); cy=min(max(y,r),size-r)
        return (x-cx)**2+(y-cy)**2<=r*r
    for y in range(size):
        row=bytearray([0])
        for x in range(size):
            px,py=x+0.5,y+0.5
            if not corner(px,py): row+=bytes((0,0,0,0)); continue
            if shield(px,py) and not tick(px,py): c=white
            else: c=blue
            row+=bytes(c+(255,))
        rows.append(bytes(row))
    raw=b''.join(rows)
    def chunk(t,d): return struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d)&0xffffffff)
    data=b'\x89PNG\r\n\x1a\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',size,size,8,6,0,0,0))+chunk(b'IDAT',zlib.compress(raw,9))+chunk(b'IEND',b'')
    open(path,'wb').write(data)
png('public/icons/icon-192.png',192)
png('public/icons/icon-512.png',512)
png('public/icons/icon-maskable-512.png',512,True)
