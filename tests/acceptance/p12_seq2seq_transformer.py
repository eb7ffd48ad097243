"""Seq2seq nn.Transformer: teacher forcing, grad accumulation, BytesIO checkpoint, greedy decode."""

import io


def program(torch):
    nn = torch.nn

    class Seq2Seq(nn.Module):
        def __init__(self, vocab=8, d=16):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.tf = nn.Transformer(
                d_model=d,
                nhead=4,
                num_encoder_layers=1,
                num_decoder_layers=1,
                dim_feedforward=24,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
            )
            self.out = nn.Linear(d, vocab)

        def forward(self, src, tgt):
            mask = self.tf.generate_square_subsequent_mask(tgt.size(1))
            h = self.tf(self.emb(src), self.emb(tgt), tgt_mask=mask, tgt_is_causal=True)
            return self.out(h)

    torch.manual_seed(13)
    model = Seq2Seq()
    print(sum(p.numel() for p in model.parameters()), "parameters")
    src = torch.randint(2, 8, (6, 5))
    tgt = torch.cat([torch.ones(6, 1, dtype=torch.long), src.flip(1)], dim=1)  # BOS=1 + reversed
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    accum = 2
    losses = []
    for step in range(6):
        half = slice((step % accum) * 3, (step % accum) * 3 + 3)
        logits = model(src[half], tgt[half, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 8), tgt[half, 1:].reshape(-1)) / accum
        loss.backward()
        losses.append(loss.item())
        if (step + 1) % accum == 0:
            opt.step()
            opt.zero_grad()
            print(f"update {(step + 1) // accum} loss {sum(losses[-accum:]):.4f}")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(0)
    fresh = Seq2Seq()
    print(fresh.load_state_dict(torch.load(buf, weights_only=True)))
    fresh.eval()
    with torch.no_grad():
        ys = torch.ones(2, 1, dtype=torch.long)
        for _ in range(5):
            nxt = fresh(src[:2], ys)[:, -1].argmax(-1, keepdim=True)
            ys = torch.cat([ys, nxt], dim=1)
    print(ys)
    print(list(fresh.state_dict())[:6])
    return losses
