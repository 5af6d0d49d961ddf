// Your data: export the collection shown as a file, import one, ask the browser to keep this
// origin's storage, delete a collection. The storage badge (app.js) shows what they take.
import { $, fmtBytes } from './ui.js';
import { forget } from './items.js';

export function setUpManage(ctx) {
  const say = (text) => { $('manage-status').textContent = text; };

  $('export').addEventListener('click', () => ctx.run('Exporting…', async () => {
    const blob = await ctx.collection.export();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${ctx.name}.siml`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    say(`Exported “${ctx.name}” (${fmtBytes(blob.size)}) as ${ctx.name}.siml.`);
  }));

  $('import').addEventListener('change', () => {
    const [file] = $('import').files;
    $('import').value = '';
    if (!file) return;
    ctx.run('Importing…', async () => {
      const names = await ctx.simil.listCollections();
      const base = file.name.replace(/\.siml$/i, '').replace(/[^\w.-]+/g, '-') || 'imported';
      let name = base;
      for (let i = 2; names.includes(name); i++) name = `${base}-${i}`;
      await ctx.simil.importCollection(name, file);
      forget(name);
      await ctx.switchTo(name);
      say(`Imported ${file.name} as “${name}” (${(await ctx.collection.count()).toLocaleString('en')} items).`);
    });
  });

  $('persist').addEventListener('click', () => ctx.run('', async () => {
    const info = await ctx.simil.storage({ persist: true });
    say(info.persisted ? 'The browser keeps this site\'s data even when space runs low.' : 'The browser did not promise to keep this site\'s data under pressure (it may ask later, or decide by itself).');
  }));

  $('delete').addEventListener('click', () => ctx.run('Deleting…', async () => {
    const name = ctx.name;
    if (!window.confirm(`Delete the collection “${name}” from this browser?`)) return;
    await ctx.simil.deleteCollection(name);
    forget(name);
    const names = await ctx.simil.listCollections();
    say(`Deleted “${name}”.${name === 'emoji' ? ' The sample comes back on the next visit.' : ''}`);
    if (names.length) await ctx.switchTo(names[0]);
    else location.reload();
  }));
}
