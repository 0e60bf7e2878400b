"""`costlab plan`: one savings plan across every lever, stacked per request without double counting.

Each lever first runs **standalone**, alone on the logged traffic, through its own command's
library function, so its figure is that command's figure: simulate-cache at the chosen threshold,
route-replay of the chosen policy, compress of the recurring prompts, simulate-prefix-cache and
its batch rows.

Then the levers are **stacked**, per request, in one DuckDB table (`stack.TABLE`), in this order;
each step sees what the earlier ones left and saves `saved_<lever>` dollars on a request:

1. cache: a hit (at the chosen threshold) costs nothing: it saves its logged cost and leaves the
   stream; no later step touches it.
2. routing: a miss goes to the chosen policy's model at that model's exact repriced cost
   (`routing.repricing`): it saves logged − routed (negative when routed to a dearer model).
   From here on, prices, tokenizer and prefix-cache rule are the routed model's.
3. compression: a miss whose system prompt or prompt is a compressed template saves the tokens
   removed, counted with the routed model's tokenizer, at the routed model's input price.
4. prefix cache: the misses, as routed and with the compressed texts, are replayed in time order
   under the routed provider's rule (`prefix.replay`); a request saves value(simulated reads and
   writes) − value(the reads and writes its routed cost already has: the logged ones when the
   provider is unchanged, else none), value = reads × (input − read) − writes × (write − input)
   at the routed model's unit prices. A compressed request can lose here: compression shortened
   or broke the prefix the logs read from cache. An uncompressed request never loses: where the
   provider read more than the rule finds, the logs stand (as in simulate-prefix-cache).
5. batch: a miss of a batch-eligible feature, not already batched, saves its remaining cost ×
   (1 − the routed model's batch input price ÷ its standard input price).

Money is exact (DECIMAL(38, 18)); per request, logged − Σ saved = after, so the totals obey
`logged_usd − Σ saved_usd == after_usd` exactly. Requests without a logged cost are left out of
the money and counted. The 95 % interval on the stacked total comes from route-replay's seeded
bootstrap over request groups (`routing.compare.resample_weights`, `routing.replay.BOOT_GROUPS`).
"""
