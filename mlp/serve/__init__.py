"""Serving the dashboard to a class: what a Voila server needs beyond its defaults.

The server's settings live in the repository's root, where the commands that
start a server read them: ``voila.json`` (the README's ``voila
notebooks/10_draw_a_digit.ipynb``) and ``jupyter_server_config.json``
(JupyterLab's "Open with Voilà", Binder); the page's template in
``share/jupyter/voila/templates/mlp-dashboard`` (installed by pip). This
package holds the one piece of them that is code:
``websocket.SafeKernelConnection``, which keeps a crafted websocket message
from freezing the server.
"""
