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
# --- video ---
video-heading = Vidéo
video-download = Télécharger la vidéo
video-no-copy = Le prestataire n'a fourni aucune copie lisible de cette vidéo.
video-captions = Transcription
video-summary = Résumé
video-length = Durée
video-language = Langue
video-speakers = Intervenants
video-chapters = Chapitres
video-transcript = Transcription
video-play-from = Lire à partir de
video-transcript-untimed = La transcription minutée n'a pas pu être lue : voici son texte, sans les temps.
video-record-unreadable = Les résultats de cette vidéo ne peuvent pas être lus ({ $error }). Un opérateur doit vérifier l'enregistrement normalisé du document.
# Le nom d'une langue d'après sa sous-étiquette principale ; une étiquette inconnue est affichée telle quelle.
video-language-name = { $code ->
    [ar] arabe
    [ca] catalan
    [cs] tchèque
    [cy] gallois
    [da] danois
    [de] allemand
    [el] grec
    [en] anglais
    [es] espagnol
    [eu] basque
    [fi] finnois
    [fr] français
    [ga] irlandais
    [he] hébreu
    [hi] hindi
    [hu] hongrois
    [it] italien
    [ja] japonais
    [ko] coréen
    [nb] norvégien bokmål
    [nl] néerlandais
    [no] norvégien
    [pl] polonais
    [pt] portugais
    [ro] roumain
    [ru] russe
    [sv] suédois
    [tr] turc
    [uk] ukrainien
    [zh] chinois
   *[other] { $code }
}
