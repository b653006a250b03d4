# Les mots de l'interface en français.
skip-to-content = Aller au contenu
signed-in-as = Connecté : { $who }
