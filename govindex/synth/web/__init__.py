"""A synthetic Chinese government web with a known ground truth, for tests and demos.

    from govindex.synth.web import generate

    from govindex.synth.web import serve
    web = generate(seed=7, n_units=20)          # deterministic for (units, seed, n_units, traps)
    with serve(web) as server:                  # every site on its own 127.x.y.z, one port
        server.write_channels("channels.csv")   # unit,kind,url,name for the crawler
        truth = server.ground_truth()           # what each unit has, with real URLs

Each unit gets a portal (GBK or UTF-8, declared in the header or only in <meta>), and depending
on its latent capability a service platform, an open-data portal and a mobile site, with the
features rules/2019 looks for (信息公开目录, 责任/权力/公共服务清单, 办事指南 by domain, 领导信箱
with dated letters, 无障碍, 智能问答 …), traps (calendars, redirect loops, slow, oversized and
gzip-bomb responses, private addresses) and pages cleaning must drop. ``python -m
govindex.synth.web serve --units N --seed S --dir DIR`` serves one by hand.
"""

from govindex.synth.web.server import Server, serve
from govindex.synth.web.web import Web, generate, load

__all__ = ["Server", "Web", "generate", "load", "serve"]
