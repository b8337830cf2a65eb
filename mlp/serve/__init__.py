"""Serving the dashboard to a class: what a Voila server needs beyond its defaults.

The server's settings live in the repository's root, where the commands that
start a server read them: ``voila.json`` (the README's ``voila
notebooks/10_draw_a_digit.ipynb``) and ``jupyter_server_config.json``
(JupyterLab's "Render with Voilà", Binder); the page's template in
``share/jupyter/voila/templates/mlp-dashboard`` (installed by pip). This
package holds the pieces of them that are code, for a server every visitor
reaches anonymously:

* ``websocket.SafeKernelConnection``: a kernel's websocket, each message
  checked before it is parsed, each client within its limits (sockets,
  messages a second, unread bytes), for this server's hosts only;
* ``kernels.ClassroomKernelManager``: a cap on kernels, with a plain "the
  class is full" page, and no kernel culled before its page could connect;
  page renders taking turns, each client address in rotation;
* ``turns.RenderTurns``: those turns, and the CPUs a rendering kernel may use;
* ``templates.keep_compiled_templates``: the page's templates compiled once, not for every page.
"""
