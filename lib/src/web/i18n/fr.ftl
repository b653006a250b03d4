# Les mots de l'interface en français.
skip-to-content = Aller au contenu
signed-in-as = Connecté : { $who }

# --- lesson ---
lesson-findings = Remarques
lesson-download-corrected = Télécharger le fichier corrigé ({ $name })
lesson-open-original-text = Le texte de l'original, en texte brut
lesson-open-corrected-text = Le texte corrigé, en texte brut
lesson-record-unreadable = Les remarques de ce document ne peuvent pas être affichées : son enregistrement n'a pas une forme que cette version de docflow sait lire.
lesson-no-findings = Aucune remarque : rien à corriger.
lesson-count = { $count ->
    [one] Une remarque
   *[other] { $count } remarques
}
lesson-count-unplaced = { $count ->
    [one] ({ $count } introuvable dans le texte)
   *[other] ({ $count } introuvables dans le texte)
}
lesson-filters = Afficher les remarques par gravité et par catégorie
lesson-filter-severity = Gravité
lesson-filter-category = Catégorie
lesson-no-filter-match = Aucune remarque des types choisis.
lesson-severity-major = Majeure
lesson-severity-minor = Mineure
lesson-severity-info = Pour information
lesson-category-spelling = Orthographe
lesson-category-grammar = Grammaire
lesson-category-style = Style
lesson-category-clarity = Clarté
lesson-category-other = Autre
lesson-page = page { $page }
lesson-paragraph = paragraphe { $paragraph }
lesson-show-in-text = Voir « { $words } » dans le texte
lesson-unplaced = Introuvable dans le texte : l'extrait est affiché tel que le prestataire l'a donné.
lesson-suggested = Suggestion : { $suggestion }
lesson-original-text = Texte original
lesson-corrected-text = Texte corrigé
lesson-text-truncated = Ce texte est long : seuls ses { $mib } premiers Mio sont affichés. Téléchargez le fichier pour le lire en entier.
lesson-no-original-file = Le fichier déposé n'est plus dans l'entrepôt.
lesson-no-corrected-file = Le prestataire n'a envoyé aucun fichier corrigé.
lesson-text-unsupported = Le format de ce fichier n'a pas de texte affichable ici (le texte, le PDF, Word .docx et OpenDocument .odt en ont) : téléchargez le fichier pour le lire.
lesson-text-unreadable = Ce fichier n'a pas pu être lu comme { $format } : téléchargez le fichier pour le lire.
lesson-text-too-large = Ce fichier dépasse { $mib } Mio, son texte n'est donc pas affiché ici : téléchargez le fichier pour le lire.
lesson-text-store = Le texte ne peut pas être lu dans l'entrepôt pour l'instant : rechargez la page dans un moment.
